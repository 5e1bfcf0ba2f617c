"""A budget's deadline stops a running trial, which keeps its best epoch (or is pruned when
nothing was kept); the scripted runtime plays what the agent leaves behind."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from tests.fake_runtime import Act, ScriptedRuntime, failed
from tests.records import new_run

from trainchain.runtimes.base import Environment
from trainchain.states import TrialState
from trainchain.trials.runner import Deadline, TrialRunner, TrialSetup


def _epoch(n: int, val: float) -> dict[str, Any]:
    return {"type": "epoch", "epoch": n, "metrics": {"accuracy": val + 0.1, "val_accuracy": val}}


def _runner(tmp_path: Path, act: Act) -> TrialRunner:
    tmp_path.mkdir(parents=True, exist_ok=True)
    store, run_id = new_run(tmp_path)
    snapshot = tmp_path / "project"
    snapshot.mkdir()
    setup = TrialSetup(
        run_id=run_id,
        run_dir=tmp_path / "run",
        snapshot=snapshot,
        entrypoint="train.py",
        metric="accuracy",  # the script's test accuracy, measured after fit
    )
    return TrialRunner(store, ScriptedRuntime(lambda _spec: act), Environment("fake", "k"), setup)


BUDGET = "the tuning budget (--timeout 30s)"


def test_a_trial_stopped_at_the_deadline_completes_with_its_best_epoch(tmp_path: Path) -> None:
    kept = Act(
        events=(
            _epoch(1, 0.6),
            _epoch(2, 0.8),
            _epoch(3, 0.7),
            # what the agent says on SIGTERM mid-fit: the best epoch, then the model it saved
            {"type": "best", "epoch": 2, "value": 0.8, "metric": "val_accuracy"}
            | {"metrics": _epoch(2, 0.8)["metrics"]},
            {"type": "model", "path": "/out/model.keras", "framework": "keras"},
        ),
        ends=None,  # trains on until stopped
    )
    runner = _runner(tmp_path, kept)
    started = time.monotonic()
    result = runner.run(1, {"LR": 0.01}, deadline=Deadline(started + 0.5, BUDGET))
    assert result.state == TrialState.COMPLETE and result.epochs == 3
    # the best epoch's val_accuracy stands for the test accuracy the script never measured
    assert result.value == pytest.approx(0.8) and result.metric_name == "accuracy"
    assert result.model_path == "/out/model.keras" and result.error is None
    row = runner.store.trial(runner.setup.run_id, 1)
    assert row is not None
    why = row.info["stopped"]["why"]
    assert why == row.info["warning"]
    assert why.startswith(f"stopped at {BUDGET} after epoch 3; it keeps its best epoch 2 ")
    assert "(val_accuracy 0.8000)" in why


def test_a_trial_stopped_with_nothing_kept_is_pruned(tmp_path: Path) -> None:
    runner = _runner(tmp_path, Act(ends=None))
    result = runner.run(1, {}, deadline=Deadline(time.monotonic() + 0.2, BUDGET))
    assert result.state == TrialState.PRUNED
    assert result.error == f"stopped at {BUDGET} before its first epoch ended"
    sdk_only = Act(
        events=({"type": "metric", "name": "val_accuracy", "value": 0.5, "step": 1},), ends=None
    )
    runner = _runner(tmp_path / "sdk", sdk_only)
    result = runner.run(1, {}, deadline=Deadline(time.monotonic() + 0.2, BUDGET))
    assert result.state == TrialState.PRUNED
    assert result.error == f"stopped at {BUDGET} after epoch 1 with no best epoch and model kept"


def test_a_pruned_trial_is_still_pruned_under_a_deadline(tmp_path: Path) -> None:
    runner = _runner(tmp_path, Act(events=(_epoch(1, 0.1),), ends=None))
    far = Deadline(time.monotonic() + 600, BUDGET)
    result = runner.run(1, {}, on_epoch=lambda _e, _m: "behind the others", deadline=far)
    assert result.state == TrialState.PRUNED and result.error == "behind the others"


def test_a_failed_attempt_is_not_restarted_past_the_deadline(tmp_path: Path) -> None:
    runner = _runner(tmp_path, failed())
    result = runner.run(1, {}, deadline=Deadline(time.monotonic() - 1, BUDGET))
    assert result.state == TrialState.FAILED
    assert f"not restarted: {BUDGET} is spent" in (result.error or "")
    assert isinstance(runner.runtime, ScriptedRuntime) and runner.runtime.attempts(1) == 1
