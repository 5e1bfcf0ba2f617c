"""A local trial process is recognised by its run id in its environment (psutil), so a reused
pid is never taken for it, and a zombie is not alive."""

from __future__ import annotations

import os
import subprocess
import sys

from trainchain.runtimes.local import LocalRuntime, trial_process


def local_process_alive(pid: str, run_id: str) -> bool:
    return LocalRuntime().is_alive(pid, run_id) is True


def test_a_trial_process_is_found_by_its_run_id() -> None:
    env = {**os.environ, "TRAINCHAIN_RUN": "run-abc"}
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=env) as proc:
        pid = str(proc.pid)
        try:
            assert trial_process(pid, "run-abc") is not None and local_process_alive(pid, "run-abc")
            assert trial_process(pid, "run-other") is None  # someone else's process
            assert trial_process("not-a-pid", "run-abc") is None
        finally:
            proc.kill()
            proc.wait()
    assert trial_process(pid, "run-abc") is None and not local_process_alive(pid, "run-abc")


def test_a_zombie_is_not_alive() -> None:
    env = {**os.environ, "TRAINCHAIN_RUN": "run-z"}
    with subprocess.Popen([sys.executable, "-c", "pass"], env=env) as proc:
        pid = str(proc.pid)
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        assert not local_process_alive(pid, "run-z")
        proc.wait()
