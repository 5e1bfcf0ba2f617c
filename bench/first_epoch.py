"""Start-to-first-epoch, bare script vs trainchain's local runtime (used by bench_overhead.py).

Both sides run the same script with the same interpreter (the warm Keras virtualenv) and write
their output to a file; the clock runs from just before the process is started (for trainchain:
before ``LocalRuntime.start``, so staging, links and the agent count) until ``Epoch 1/`` appears
(Keras prints it as the first epoch begins), then the process is killed: what is measured is
start-up, not training.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, SHARED_DATA, WARM_ENVS

MARKER = "Epoch 1/"
SCRIPTS: dict[str, dict[str, Any]] = {
    "digits": {"example": "digits-cnn", "params": {}, "stdin": "", "data": {}},
    "catdog": {
        "example": "catdog-cnn",
        "params": {"no_of_epoch": 2},  # answers input(); 2: Keras prints no "Epoch 1/1"
        "stdin": "2\n",
        "data": {"cnn_dataset": SHARED_DATA / "catdog"},
    },
}


def keras_env() -> Any:
    """The digits example's environment (keras profile + scikit-learn), warm when it can be."""
    from trainchain.runtimes.local import LocalRuntime
    from trainchain.stages.detect import detect_project

    spec = detect_project(ROOT / "examples" / "digits-cnn", None, None, {}).env_spec
    return LocalRuntime(WARM_ENVS).provision(spec, lambda _l: None)


def _wait_for_marker(log: Path, started: float, alive: Callable[[], bool]) -> float:
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if MARKER in text:
            return time.perf_counter() - started
        if not alive():
            raise AssertionError(f"{log} ended before its first epoch:\n{text[-3000:]}")
        if time.perf_counter() - started > 900:
            raise AssertionError(f"{log}: no first epoch after 900 s")
        time.sleep(0.05)


def bare(env: Any, name: str, root: Path, n: int) -> float:
    case = SCRIPTS[name]
    work = root / f"bare-{name}-{n}"
    shutil.copytree(ROOT / "examples" / case["example"], work)
    for link, target in case["data"].items():
        (work / link).symlink_to(target, target_is_directory=True)
    log = root / f"bare-{name}-{n}.log"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environ.update(PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")  # as a trial gets them
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [env.python, "train.py"],
            cwd=work,
            env=environ,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(case["stdin"].encode())
        proc.stdin.close()
        try:
            return _wait_for_marker(log, started, lambda: proc.poll() is None)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def trainchain(env: Any, name: str, root: Path, n: int, preload: tuple[str, ...] = ()) -> float:
    from trainchain.runtimes.base import TrialSpec
    from trainchain.runtimes.local import LocalRuntime
    from trainchain.states import OutcomeKind

    case = SCRIPTS[name]
    side = "warm" if preload else "tc"
    work = root / f"{side}-{name}-{n}"
    shutil.copytree(ROOT / "examples" / case["example"], work)  # a fresh copy, as a run makes
    spec = TrialSpec(
        run_id="bench-first-epoch",
        trial=n,
        attempt=1,
        workdir=work,
        entrypoint="train.py",
        params=case["params"],
        data=dict(case["data"]),
        output_dir=root / f"{side}-{name}-o{n}",
        checkpoint_dir=root / f"{side}-{name}-c{n}",
        events_path=root / f"{side}-{name}-e{n}" / "events.jsonl",
        log_path=root / f"{side}-{name}-{n}.log",
        preload=preload,
    )
    runtime = LocalRuntime(WARM_ENVS)
    if preload:  # as the trial runner does while the previous trial trains (untimed)
        runtime.prepare(env, spec)
        _wait_idle(runtime._spares[0].proc.pid)
    started = time.perf_counter()
    proc = runtime.start(env, spec)
    try:
        return _wait_for_marker(spec.log_path, started, lambda: proc.poll() is None)
    finally:
        proc.kill(OutcomeKind.STOPPED, "benchmark: first epoch reached")
        proc.wait(60)


def warm(env: Any, name: str, root: Path, n: int) -> float:
    """trainchain, the attempt started ahead (``LocalRuntime.prepare``) with its frameworks."""
    return trainchain(env, name, root, n, preload=("numpy", "keras"))


def _wait_idle(pid: int) -> None:
    """Until the process stops using CPU (its imports done, it blocks on its release)."""
    import psutil

    process, last = psutil.Process(pid), -1.0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        used = sum(process.cpu_times()[:2])
        if used == last:
            return
        last = used
        time.sleep(0.5)
    raise AssertionError(f"spare {pid} still busy after 300 s")
