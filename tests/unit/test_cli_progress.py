"""The run progress model: epochs, best so far against the goal, ETAs from measured times."""

from __future__ import annotations

import io

from rich.console import Console

from trainchain.cli.progress import RunProgress, duration
from trainchain.cli.view import ProgressView, best_line, epoch_line, headline


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _trial(
    p: RunProgress,
    clock: Clock,
    number: int,
    epochs: int,
    per_epoch: float,
    values: list[float],
    end: str = "complete",
) -> None:
    p.update({"kind": "trial_start", "trial": number, "params": {}})
    clock.now += 2.0  # process start and model build are not epochs
    p.update({"kind": "fit", "trial": number, "epochs": epochs, "initial_epoch": 0})
    for epoch, value in enumerate(values, start=1):
        clock.now += per_epoch
        p.update(
            {
                "kind": "epoch",
                "trial": number,
                "epoch": epoch,
                "metrics": {"loss": 1 - value, "val_accuracy": value},
            }
        )
    if end:
        p.update(
            {
                "kind": "trial_end",
                "trial": number,
                "state": end,
                "value": values[-1] if end == "complete" else None,
                "metric": "val_accuracy",
            }
        )


def test_eta_comes_from_epoch_and_trial_times() -> None:
    clock = Clock()
    p = RunProgress(clock)
    p.update({"kind": "stage", "stage": "tune", "state": "running"})
    p.update(
        {
            "kind": "plan",
            "metric": "val_accuracy",
            "goal": "maximize",
            "target": 0.9,
            "max_trials": 5,
        }
    )
    _trial(p, clock, 0, epochs=4, per_epoch=10.0, values=[0.5, 0.6, 0.7, 0.8])
    assert p.best == 0.8 and p.best_trial == 0
    _trial(p, clock, 1, epochs=4, per_epoch=10.0, values=[0.4, 0.5], end="")
    trial = p.active[1]
    assert (trial.epoch, trial.epochs, trial.value, trial.metric) == (2, 4, 0.5, "val_accuracy")
    assert trial.seconds_per_epoch() == 10.0
    assert trial.eta() == 20.0  # two epochs left at 10 s
    # then 3 trials left of the budget at the finished trial's 42 s each
    assert p.eta_run() == 20.0 + 3 * 42.0
    line = epoch_line(p, trial)
    assert "trial 1 epoch 2/4 val_accuracy 0.5000" in line and "trial ETA 20s" in line
    assert "trial 1 of 5" in headline(p) and "ETA ≤ 2m26s" in headline(p)
    assert best_line(p) == "best val_accuracy 0.8000 (trial 0) · target 0.9"


def test_best_follows_the_goal_and_ignores_pruned_trials() -> None:
    clock = Clock()
    p = RunProgress(clock)
    p.update({"kind": "plan", "metric": "loss", "goal": "minimize", "target": 0.1, "max_trials": 3})
    for number, value in enumerate((0.5, 0.3, 0.4)):
        p.update({"kind": "trial_start", "trial": number, "params": {}})
        p.update({"kind": "trial_end", "trial": number, "state": "complete", "value": value})
    p.update({"kind": "trial_start", "trial": 3, "params": {}})
    p.update({"kind": "trial_end", "trial": 3, "state": "pruned", "value": 0.01})
    assert (p.best, p.best_trial) == (0.3, 1)
    assert p.eta_run() == 0.0  # budget spent, nothing in flight


def test_plain_lines_off_a_terminal() -> None:
    out = io.StringIO()
    view = ProgressView("live", Console(file=out, force_terminal=False, width=200))
    clock = Clock()
    view.state = RunProgress(clock)
    view({"kind": "stage", "stage": "train", "state": "running"})
    view({"kind": "plan", "metric": "auto", "goal": "maximize", "target": 0.9, "max_trials": 1})
    view({"kind": "trial_start", "trial": 0, "params": {"lr": 0.001}})
    clock.now += 3
    view({"kind": "epoch", "trial": 0, "epoch": 1, "metrics": {"accuracy": 0.42}})
    view(
        {"kind": "trial_end", "trial": 0, "state": "complete", "value": 0.42, "metric": "accuracy"}
    )
    view.close()
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text  # no escape codes, no redrawn lines
    assert "trial 0 epoch 1 accuracy 0.4200" in text
    assert "trial 0 complete accuracy = 0.4200 · best 0.4200 (trial 0)" in text


def test_json_mode_prints_nothing() -> None:
    out = io.StringIO()
    view = ProgressView("json", Console(file=out, force_terminal=True))
    view({"kind": "stage", "stage": "train", "state": "running"})
    view({"kind": "trial_start", "trial": 0, "params": {}})
    view.close()
    assert out.getvalue() == ""


def test_duration_for_people() -> None:
    assert [duration(s) for s in (None, 4.4, 65, 3720)] == ["–", "4s", "1m05s", "1h02m"]


def test_a_trial_of_unknown_length_is_estimated_from_finished_trials() -> None:
    clock = Clock()
    p = RunProgress(clock)
    p.update({"kind": "plan", "metric": "val_accuracy", "target": 0.9, "max_trials": 3})
    p.update({"kind": "trial_start", "trial": 0, "params": {}})
    clock.now += 40.0
    p.update({"kind": "trial_end", "trial": 0, "state": "complete", "value": 0.5})
    p.update({"kind": "trial_start", "trial": 1, "params": {}})  # SDK metrics: no epoch count
    clock.now += 10.0
    p.update({"kind": "epoch", "trial": 1, "epoch": 1, "metrics": {"val_accuracy": 0.4}})
    assert p.active[1].eta() is None
    assert p.eta_run() == 30.0 + 40.0  # the rest of a typical trial, then the last trial
