"""The tuning engine's decisions on synthetic curves: chance-level and diverged trials, rungs,
start-up trials, pinned epochs, and a trial's value taken from its best epoch."""

from __future__ import annotations

import dataclasses
import math

import optuna
import pytest

from trainchain.trials import metrics as M
from trainchain.tuning import ChanceLevelPruner, dead_curve, make_pruner, pin_epochs, startup_trials
from trainchain.tuning.budget import epoch_resource, min_resource
from trainchain.tuning.pruners import chance_epochs

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_dead_curve_at_chance_and_diverged() -> None:
    assert dead_curve([0.5, 0.5], 0.5, maximize=True) is not None
    assert dead_curve([0.5, 0.505], 0.5, maximize=True) is not None  # within the margin
    assert dead_curve([0.5], 0.5, maximize=True) is None  # one epoch is not enough
    assert dead_curve([0.5, 0.6, 0.5], 0.5, maximize=True) is None  # only the last two count
    assert dead_curve([0.5, 0.5, 0.55], 0.5, maximize=True) is None  # it moved
    assert dead_curve([0.5, 0.5, 0.5], 0.5, maximize=True, patience=3) is not None
    assert dead_curve([0.5, 0.5], None, maximize=True) is None  # chance unknown
    assert dead_curve([0.5, 0.5], 0.5, maximize=False) is None  # losses have no chance level
    assert "diverged" in (dead_curve([0.3, math.nan], None, maximize=False) or "")
    assert "diverged" in (dead_curve([0.3, math.inf], 0.1, maximize=True) or "")
    assert chance_epochs(6) == 2 and chance_epochs(20) == 3 and chance_epochs(None) == 2


def _study(pruner: optuna.pruners.BasePruner) -> optuna.Study:
    return optuna.create_study(direction="maximize", pruner=pruner)


def _run(study: optuna.Study, curve: list[float]) -> int | None:
    """Report ``curve`` epoch by epoch; the epoch it was pruned at, or None (completed)."""
    trial = study.ask()
    for epoch, value in enumerate(curve, 1):
        trial.report(value, epoch)
        if trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return epoch
    study.tell(trial, max(curve))
    return None


def test_a_trial_at_chance_is_pruned_even_when_it_is_the_only_trial() -> None:
    """The cat/dog case: a lone trial at 0.5 for its epochs; the median pruner never stops it."""
    stuck = [0.5] * 17
    assert _run(_study(optuna.pruners.MedianPruner(n_startup_trials=2)), stuck) is None
    pruner = make_pruner("asha", resource=20, chance=0.5)
    assert isinstance(pruner, ChanceLevelPruner)
    study = _study(pruner)
    assert _run(study, stuck) == 3  # 20 epochs: three at chance
    assert "chance level" in pruner.reason(0)
    assert _run(study, [0.55, 0.62, 0.7, 0.74, 0.76]) is None  # a learning trial goes on
    assert _run(_study(make_pruner("median", 20, 0.5)), stuck) == 3
    assert _run(_study(make_pruner("hyperband", 20, 0.5)), stuck) == 3
    assert _run(_study(make_pruner("none", 20, 0.5)), stuck) is None


def test_a_diverged_trial_is_pruned_at_its_first_nan() -> None:
    pruner = make_pruner("asha", resource=20, chance=None)
    study = _study(pruner)
    assert _run(study, [0.4, math.nan, 0.1]) == 2
    assert "diverged" in pruner.reason(0)


def test_successive_halving_rungs_stop_a_weak_trial_and_let_a_strong_one_continue() -> None:
    pruner = make_pruner("asha", resource=18, chance=0.1)  # rungs at epochs 2, 6, 18
    study = _study(pruner)
    assert _run(study, [0.3 + 0.03 * e for e in range(18)]) is None  # the first sets the bar
    assert _run(study, [0.2 + 0.01 * e for e in range(18)]) == 2  # behind it at rung 1
    assert "top 1/3" in pruner.reason(1)
    assert _run(study, [0.4 + 0.03 * e for e in range(18)]) is None  # ahead at every rung


def test_rungs_startup_trials_and_resource() -> None:
    assert [min_resource(r, 3) for r in (None, 6, 18, 20, 40)] == [None, 1, 2, 2, 4]
    assert [startup_trials(n) for n in (1, 5, 8, 14, 21, 100)] == [2, 2, 2, 3, 5, 10]
    assert epoch_resource({"EPOCHS": 20}, 3) == 20
    assert epoch_resource({}, 6) == 6 and epoch_resource({}, 0) is None


def test_epoch_parameters_are_pinned_to_their_top() -> None:
    space = {
        "EPOCHS": {"type": "int", "low": 1, "high": 20},
        "keras.epochs": {"type": "int", "low": 2, "high": 12},
        "LEARNING_RATE": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "keras.width": {"type": "float", "low": 0.5, "high": 2.0},
    }
    rest, pinned = pin_epochs(space)
    assert pinned == {"EPOCHS": 20, "keras.epochs": 12}
    assert set(rest) == {"LEARNING_RATE", "keras.width"}


@pytest.mark.parametrize(
    ("events", "value"),
    [
        # the agent kept epoch 2 (its best): the trial's keras_epoch metrics are epoch 2's
        (
            [
                {"type": "fit", "skipped": False},
                {"type": "epoch", "epoch": 1, "metrics": {"val_accuracy": 0.7}},
                {"type": "best", "epoch": 1, "metrics": {"val_accuracy": 0.7}},
                {"type": "epoch", "epoch": 2, "metrics": {"val_accuracy": 0.9}},
                {"type": "best", "epoch": 2, "metrics": {"val_accuracy": 0.9}},
                {"type": "epoch", "epoch": 3, "metrics": {"val_accuracy": 0.5}},
            ],
            0.9,
        ),
        # a later fit trained without a best (no metric to follow): its last epoch counts
        (
            [
                {"type": "fit", "skipped": False},
                {"type": "best", "epoch": 1, "metrics": {"val_accuracy": 0.9}},
                {"type": "fit", "skipped": False},
                {"type": "epoch", "epoch": 1, "metrics": {"val_accuracy": 0.6}},
            ],
            0.6,
        ),
        # no agent best events (another framework): the last epoch, as before
        ([{"type": "epoch", "epoch": 1, "metrics": {"val_accuracy": 0.4}}], 0.4),
    ],
)
def test_a_trial_value_is_its_best_epoch(events: list[dict[str, object]], value: float) -> None:
    choice = M.choose_metric(events, "auto", "maximize")
    assert choice is not None and choice.name == "val_accuracy" and choice.value == value


def test_only_a_trial_still_improving_with_pinned_epochs_is_continued() -> None:
    from trainchain.tuning.continuation import continued_params, still_improving

    assert still_improving({"best": {"epoch": 6}}, 6)
    assert not still_improving({"best": {"epoch": 4}}, 6)  # it had peaked
    assert not still_improving({"best": {"epoch": 6}, "early_stop": {"epoch": 6}}, 6)
    assert not still_improving({}, 6)
    pinned = {"EPOCHS": 20}
    assert continued_params({"EPOCHS": 20, "LR": 0.01}, pinned) == {"EPOCHS": 40, "LR": 0.01}
    assert continued_params({"EPOCHS": 3, "LR": 0.01}, pinned) is None  # the baseline's
    assert continued_params({"EPOCHS": 20}, {}) is None  # epochs were not the resource


def test_the_baseline_curve_is_a_rung_competitor_the_sampler_never_sees() -> None:
    from trainchain.tuning import report_baseline

    pruner = make_pruner("asha", resource=18, chance=None)  # rungs at epochs 2, 6, 18
    study = _study(pruner)
    report_baseline(study, [(1, 0.3), (2, 0.5), (3, 0.6)])
    # slower than the script's defaults at epoch 2: pruned, though it is the first trial
    assert _run(study, [0.2, 0.3, 0.5, 0.6]) == 2
    assert _run(study, [0.4, 0.6, 0.7]) is None
    assert study.trials[0].state == optuna.trial.TrialState.FAIL and not study.trials[0].params
    grid = optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [1, 2]}))
    report_baseline(grid, [(1, 0.3)])
    seen = {grid.ask({"x": optuna.distributions.CategoricalDistribution([1, 2])}).params["x"]}
    seen.add(grid.ask({"x": optuna.distributions.CategoricalDistribution([1, 2])}).params["x"])
    assert seen == {1, 2}  # the baseline took no grid point


def test_a_spent_grid_ends_its_last_trial_normally() -> None:
    """GridSampler calls study.stop() when its grid is spent; under ask/tell that raised."""
    from trainchain.stages.tune import _told

    x: dict[str, optuna.distributions.BaseDistribution] = {
        "x": optuna.distributions.CategoricalDistribution([1, 2])
    }
    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [1, 2]}))
    first, second = study.ask(x), study.ask(x)
    _told(study, first, 0.5)
    _told(study, second, state=optuna.trial.TrialState.PRUNED)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    with pytest.raises(RuntimeError, match="Study.stop"):  # what it did before
        study.tell(study.ask(x), 0.1)


@pytest.mark.parametrize(("parallel", "lies"), [(1, False), (2, True)])
def test_parallel_tpe_counts_running_trials_as_bad(parallel: int, lies: bool) -> None:
    """Two workers asking TPE at once would be sent to the same region without the liar."""
    from trainchain.stages.tune import SearchSettings, _sampler

    space = {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}
    settings = SearchSettings("s", "sqlite://", space, "accuracy", "maximize", 0.9)
    sampler = _sampler(dataclasses.replace(settings, parallel=parallel))
    assert isinstance(sampler, optuna.samplers.TPESampler)
    assert sampler._constant_liar is lies
