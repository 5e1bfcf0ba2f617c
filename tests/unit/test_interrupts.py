"""A Ctrl-C whose ``KeyboardInterrupt`` was swallowed (raised in Python code that C called and
whose errors it drops) still stops the run: the controller's wait loop raises it again, the
attempt is stopped and recorded as interrupted. Found by CI: the controller ignored a SIGINT
and trained on to exit 0."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path

import pytest
from tests.fake_runtime import Act, ScriptedRuntime
from tests.records import new_run

from trainchain import interrupts
from trainchain.runtimes.base import Environment
from trainchain.trials.runner import Deadline, TrialRunner, TrialSetup


def _swallowed_sigint() -> None:
    """What a SIGINT leaves when its exception is lost: the handler ran, nothing propagated."""
    with contextlib.suppress(KeyboardInterrupt):
        interrupts._on_sigint(signal.SIGINT, None)


def test_a_swallowed_ctrl_c_still_stops_the_trial_and_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(interrupts, "_pending", threading.Event())
    store, run_id = new_run(tmp_path)
    (tmp_path / "project").mkdir()
    setup = TrialSetup(
        run_id=run_id, run_dir=tmp_path / "run", snapshot=tmp_path / "project", entrypoint="t.py"
    )
    runtime = ScriptedRuntime(lambda _spec: Act(ends=None))  # trains until stopped
    runner = TrialRunner(store, runtime, Environment("fake", "k"), setup)
    threading.Timer(0.5, _swallowed_sigint).start()
    safety = Deadline(time.monotonic() + 20, "the test's safety budget")  # never hang
    with pytest.raises(KeyboardInterrupt):
        runner.run(0, {}, deadline=safety)
    trial = store.trial(run_id, 0)
    assert trial is not None
    (attempt,) = trial.attempts
    assert (attempt.outcome, attempt.reason) == ("stopped", "the controller was interrupted")


def test_install_starts_clean_and_check_raises_only_after_a_sigint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(interrupts, "_pending", threading.Event())
    previous = signal.getsignal(signal.SIGINT)
    try:
        interrupts.install()
        interrupts.check()  # nothing pending
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()  # still pending: a lost exception would be raised again
        interrupts.install()
        interrupts.check()  # a new command starts clean
    finally:
        signal.signal(signal.SIGINT, previous)
