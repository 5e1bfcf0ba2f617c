"""Resume after a controller death: what an orphaned attempt left behind decides what happens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.records import new_run

from trainchain.runtimes.base import Environment, EnvSpec, Runtime, TrialProcess, TrialSpec
from trainchain.states import TrialState
from trainchain.store import Attempt, Store, Trial
from trainchain.trials.runner import TrialRunner, TrialSetup
from trainchain.trials.workspace import trial_dirs


class NoStartRuntime(Runtime):
    """A test double behind our own ABC: records reaps, refuses to start anything."""

    name = "nostart"

    def __init__(self) -> None:
        self.reaped: list[str] = []

    def provision(self, spec: EnvSpec, log: object) -> Environment:
        return Environment(runtime=self.name, key="k")

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        raise AssertionError("a finished orphan must not be trained again")

    def reap(self, process_id: str, run_id: str) -> bool:
        self.reaped.append(process_id)
        return False  # the process is gone


def _orphan(
    tmp_path: Path, params: dict[str, Any], attempt: dict[str, Any], lines: list[dict[str, Any]]
) -> tuple[Store, str, Path]:
    """A run whose trial 0 has attempt 1 still marked running, its events file holding
    ``lines``: what a controller killed mid-attempt leaves behind."""
    store, run_id = new_run(tmp_path)
    with store.session() as s:
        trial = Trial(run_id=run_id, number=0, params=params, state="running")
        s.add(trial)
        s.flush()
        s.add(Attempt(trial_id=trial.id, number=1, outcome="running", **attempt))
    run_dir = tmp_path / "run"
    events = trial_dirs(run_dir, 0).events(1)
    events.parent.mkdir(parents=True)
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return store, run_id, run_dir


def test_an_orphan_that_finished_is_kept_with_its_epochs(tmp_path: Path) -> None:
    lines: list[dict[str, Any]] = [
        {"type": "epoch", "epoch": 1, "metrics": {"val_accuracy": 0.5}},
        {"type": "epoch", "epoch": 2, "metrics": {"val_accuracy": 0.7}},
        {"type": "end", "status": "ok", "exception": None},
    ]
    store, run_id, run_dir = _orphan(
        tmp_path, {"EPOCHS": 2}, {"process_id": "4242", "last_epoch": 1}, lines
    )
    runtime = NoStartRuntime()
    setup = TrialSetup(run_id=run_id, run_dir=run_dir, snapshot=tmp_path, entrypoint="train.py")
    result = TrialRunner(store, runtime, Environment("nostart", "k"), setup).run(0, {"EPOCHS": 2})
    assert runtime.reaped == ["4242"]
    assert result.state == TrialState.COMPLETE and result.value == 0.7
    row = store.trial(run_id, 0)
    assert row is not None and [e.epoch for e in row.epochs] == [2]  # epoch 1 was stored live
    assert row.attempts[0].outcome == "succeeded" and "result kept" in row.attempts[0].reason


def test_an_orphan_that_failed_after_training_is_kept_with_its_warning(tmp_path: Path) -> None:
    crash = {"type": "OSError", "message": "no model.h5", "file": "cnn.py", "line": 31}
    lines: list[dict[str, Any]] = [
        {"type": "epoch", "epoch": 1, "metrics": {"val_accuracy": 0.6}},
        {"type": "end", "status": "error", "exception": crash, "after_training": True},
    ]
    store, run_id, run_dir = _orphan(tmp_path, {}, {"process_id": "7"}, lines)
    setup = TrialSetup(run_id=run_id, run_dir=run_dir, snapshot=tmp_path, entrypoint="cnn.py")
    runner = TrialRunner(store, NoStartRuntime(), Environment("nostart", "k"), setup)
    result = runner.run(0, {})
    assert result.state == TrialState.COMPLETE and result.value == 0.6
    row = store.trial(run_id, 0)
    assert row is not None and row.attempts[0].outcome == "succeeded_with_error"
    assert "at cnn.py:31: OSError: no model.h5" in row.info["warning"]
