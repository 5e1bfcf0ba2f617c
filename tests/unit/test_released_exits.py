"""A trial whose agent wrote ``end`` ok is recorded at once; its interpreter's exit (about 1 s
with TensorFlow) overlaps the next trial, and the runtime's ``settle`` waits for it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from tests.records import new_run

from trainchain.runtimes import local
from trainchain.runtimes.base import Environment
from trainchain.runtimes.local import LocalRuntime
from trainchain.states import OutcomeKind, TrialState
from trainchain.store import Store
from trainchain.trials.runner import TrialRunner, TrialSetup

SLOW_EXIT = """
import atexit, os, pathlib, sys, time

EPOCHS = 1
EXIT = "sleep"
out = pathlib.Path(os.environ["TRAINCHAIN_OUTPUT_DIR"])
notes = open(out / "notes.txt", "w")  # never closed: the interpreter's exit flushes it
notes.write("written, never closed")


def at_exit():
    if EXIT == "hang":
        time.sleep(3600)
    time.sleep(4)
    (out / "late.txt").write_text("the atexit handler ran")
    if EXIT == "fail":
        os._exit(7)


atexit.register(at_exit)
print(f"accuracy: {EPOCHS / 10}")
"""


def test_a_trial_is_recorded_at_its_end_event_and_settle_waits_for_its_exit(
    tmp_path: Path,
) -> None:
    store, runner, runtime = _runner(tmp_path)
    result = runner.run(0, {"EPOCHS": 2})
    output = tmp_path / "run" / "trials" / "000" / "output"
    # recorded while the interpreter still runs its atexit handler (4 s)
    assert result.state == TrialState.COMPLETE and result.value == 0.2
    row = store.trial(store.runs()[0].id, 0)
    assert row is not None
    (attempt,) = row.attempts
    assert attempt.outcome == OutcomeKind.SUCCEEDED.value
    assert not (output / "late.txt").exists()
    (process,) = runtime._released
    assert process.proc.poll() is None
    runtime.settle()
    assert process.proc.poll() == 0 and runtime._released == []
    assert (output / "late.txt").read_text() == "the atexit handler ran"
    assert (output / "notes.txt").read_text() == "written, never closed"


def test_an_exit_that_fails_after_end_keeps_the_trial_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, runner, runtime = _runner(tmp_path)
    assert runner.run(0, {"EPOCHS": 3, "EXIT": "fail"}).value == 0.3
    with caplog.at_level(logging.WARNING, logger="trainchain.runtimes.local"):
        runtime.close()  # closing settles too
    assert "exited with code 7 after its training ended; the trial keeps its result" in caplog.text


def test_an_exit_that_hangs_is_stopped_after_the_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "EXIT_WAIT_SECONDS", 1.0)
    _, runner, runtime = _runner(tmp_path)
    assert runner.run(0, {"EXIT": "hang"}).state == TrialState.COMPLETE
    (process,) = runtime._released
    with caplog.at_level(logging.WARNING, logger="trainchain.runtimes.local"):
        runtime.settle()
    assert process.proc.poll() is not None
    assert "still running 1s after its training ended" in caplog.text


def _runner(tmp_path: Path) -> tuple[Store, TrialRunner, LocalRuntime]:
    store, run_id = new_run(tmp_path)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "train.py").write_text(SLOW_EXIT)
    setup = TrialSetup(
        run_id=run_id, run_dir=tmp_path / "run", snapshot=snapshot, entrypoint="train.py"
    )
    runtime = LocalRuntime(tmp_path / "envs")
    runner = TrialRunner(store, runtime, Environment("local", "k", python=sys.executable), setup)
    return store, runner, runtime
