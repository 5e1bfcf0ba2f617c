"""`trainchain revive` (old name `monitor`): a run whose controller died is found and resumed; a
run with a live controller is left alone; the rule without a controller lock needs a dead
attempt process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.faults.test_controller_death import _project, _query, _running_trial
from trainchain.cli.revive import monitor, revive
from trainchain.reviver import controller_lock, find_orphans, lock_state
from trainchain.runtimes.local import LocalRuntime
from trainchain.states import LockState
from trainchain.store import Attempt, Run, Store, Trial


def _start(proj: Path, pause: float) -> subprocess.Popen[bytes]:
    # trials get an allow-listed environment: the operator passes FAULTS_PAUSE by name
    env = {**os.environ, "FAULTS_PAUSE": str(pause), "TRAINCHAIN_TRIAL_ENV": "FAULTS_PAUSE"}
    return subprocess.Popen(
        [sys.executable, "-m", "trainchain", "run", str(proj), "--no-tune", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_trial(proc: subprocess.Popen[bytes], db: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and _running_trial(db) != 0:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before the reviver could see it"


def _revive(*args: str, command: Any = revive) -> dict[str, Any]:
    result = CliRunner().invoke(command, ["--once", "--json", "--no-docker", "--grace", "1", *args])
    assert result.exit_code == 0, result.output
    outcome: dict[str, Any] = json.loads(result.stdout)
    return outcome


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_monitor_once_resumes_a_run_whose_controller_was_killed(
    tmp_path: Path, trainchain_home: Path
) -> None:
    proj, db = _project(tmp_path / "proj"), trainchain_home / "trainchain.db"
    controller = _start(proj, 8.0)
    _wait_for_trial(controller, db)
    assert _revive()["resumed"] == []  # a live controller: nothing to do
    controller.send_signal(signal.SIGKILL)
    controller.wait()

    outcome = _revive(command=monitor)  # the old name still works
    (run_id,) = (row[0] for row in _query(db, "select id from tc_runs"))
    assert [r["run_id"] for r in outcome["resumed"]] == [run_id], outcome
    assert "controller lock" in outcome["resumed"][0]["reason"]
    status = _query(db, f"select status from tc_runs where id = '{run_id}'")[0][0]
    assert status in ("succeeded", "target_not_reached"), status
    outcomes = [row[0] for row in _query(db, "select a.outcome from tc_attempts a order by a.id")]
    assert outcomes[0] == "lost" and outcomes[-1] == "succeeded", outcomes
    assert _revive()["resumed"] == []  # done: never resumed twice


def test_without_a_lock_only_a_dead_attempt_process_makes_an_orphan(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, "TRAINCHAIN_RUN": "alive"},
    )
    gone = subprocess.Popen(
        [sys.executable, "-c", "pass"], env={**os.environ, "TRAINCHAIN_RUN": "dead"}
    )
    gone.wait()
    try:
        with store.session() as s:
            for run_id, pid in (("alive", sleeper.pid), ("dead", gone.pid), ("idle", None)):
                s.add(Run(id=run_id, name="m", source="x", status="running"))
                trial = Trial(run_id=run_id, number=0)
                s.add(trial)
                s.flush()
                if pid is not None:
                    s.add(Attempt(trial_id=trial.id, number=1, process_id=str(pid)))
        assert lock_state(tmp_path / "alive") is LockState.ABSENT
        orphans = find_orphans(store, {"local": LocalRuntime()}, grace=0.5)
        assert [o.run_id for o in orphans] == ["dead"], orphans
        assert "process gone" in orphans[0].reason
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_controller_lock_is_exclusive_and_freed_by_a_kill(tmp_path: Path) -> None:
    from trainchain.reviver import RunBusyError

    run = tmp_path / "runs" / "r1"
    with controller_lock(run):
        assert lock_state(run) is LockState.HELD
        with pytest.raises(RunBusyError) as caught, controller_lock(run):
            pass
        assert (
            f"process {os.getpid()}" in caught.value.message
            and "trainchain resume r1" in caught.value.message
        )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; sys.path[:0] = sys.argv[1:]\n"
                "from pathlib import Path\nfrom trainchain.reviver import controller_lock\n"
                f"with controller_lock(Path({str(run)!r})):\n"
                "    print('held', flush=True); time.sleep(60)\n"
            ),
            *sys.path,
        ],
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
    assert lock_state(run) is LockState.HELD
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    assert lock_state(run) is LockState.FREE
