"""The baseline as a complete point of the search space (TPE's first observation of every
dimension), and knobs dropped when the baseline's input shows they cannot apply."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
from tests.conftest import EXAMPLES

from trainchain.stages.detect import detect_project
from trainchain.trials.workspace import trial_dirs
from trainchain.tuning import (
    baseline_facts,
    baseline_point,
    inapplicable_knobs,
    pin_epochs,
    report_baseline,
)
from trainchain.tuning.sampling import to_distributions
from trainchain.tuning.written import augment_cannot_apply, written_values

optuna.logging.set_verbosity(optuna.logging.WARNING)

# what examples/digits-cnn's baseline agent reports (events of a real run, trimmed)
DIGITS_EVENTS = [
    {"type": "optimizer", "name": "adam", "learning_rate": 0.0001},
    {"type": "data", "call": 1, "train_batches": 34, "batch_size": 32},
    {"type": "input", "call": 1, "shape": [None, 8, 8, 1]},
    {"type": "fit", "call": 1, "epochs": 3, "batch_size": 32, "initial_epoch": 0},
]


def _digits_space() -> tuple[dict[str, dict[str, object]], list[dict[str, object]]]:
    found = detect_project(EXAMPLES / "digits-cnn", None, None, {})
    space, _ = pin_epochs(found.space)  # asha: EPOCHS is the resource, not a dimension
    return space, list(found.detection["parameters"])


def _write_events(run_dir: Path, events: list[dict[str, object]]) -> None:
    path = trial_dirs(run_dir, 0).events(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(ev) + "\n" for ev in events))


def test_the_baseline_is_the_studys_first_complete_point(tmp_path: Path) -> None:
    space, parameters = _digits_space()
    _write_events(tmp_path, DIGITS_EVENTS)
    facts = baseline_facts(tmp_path)
    assert facts["optimizer"] == "adam" and facts["input_shape"] == [None, 8, 8, 1]
    distributions = to_distributions(space)
    point, missing = baseline_point(distributions, written_values(parameters, {}, facts))
    assert not missing
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=2, multivariate=True),
    )
    report_baseline(study, [(1, 0.2), (2, 0.35), (3, 0.5)], point, distributions, 0.48)
    first = study.trials[0]
    assert first.state == optuna.trial.TrialState.COMPLETE and first.value == 0.48
    assert set(first.distributions) == set(distributions) == set(space)
    assert first.params["keras.augment"] == "none" and first.params["keras.batchnorm"] is False
    assert first.params["keras.optimizer"] == "adam" and first.params["keras.width"] == 1.0
    assert first.params["LEARNING_RATE"] == 0.0001 and first.params["FILTERS"] == 32
    assert first.intermediate_values == {1: 0.2, 2: 0.35, 3: 0.5}  # still a rung competitor
    # a multivariate TPE trial after it is over the whole space
    for _ in range(3):
        trial = study.ask(distributions)
        assert set(trial.params) == set(distributions)
        study.tell(trial, 0.5)


def test_a_baseline_without_a_value_in_every_dimension_is_a_rung_competitor_only() -> None:
    space, parameters = _digits_space()
    distributions = to_distributions(space)
    # the script compiled with Adadelta: no keras.optimizer choice is the as-written one
    written = written_values(parameters, {}, {"optimizer": "adadelta"})
    point, missing = baseline_point(distributions, written)
    assert missing == ["keras.optimizer"]
    study = optuna.create_study(direction="maximize")
    report_baseline(study, [(1, 0.3)], None, distributions, 0.3)
    assert study.trials[0].state == optuna.trial.TrialState.FAIL and not study.trials[0].params


def test_fixed_values_and_defaults_outside_the_range_are_handled() -> None:
    dist = {
        "lr": optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True),
        "units": optuna.distributions.IntDistribution(8, 128),
    }
    # an int default of a float dimension counts; a fixed value (baseline params) wins
    point, missing = baseline_point(dist, {"lr": 0.001, "units": 64.0})
    assert point == {"lr": 0.001, "units": 64} and not missing
    assert baseline_point(dist, {"lr": 0.5, "units": 64})[1] == ["lr"]  # outside: not a point


def test_augment_is_dropped_for_small_or_non_image_inputs_only(tmp_path: Path) -> None:
    space = {"keras.augment": {"type": "categorical"}, "keras.batchnorm": {"type": "bool"}}
    # a cat/dog baseline's events (64x64 RGB): augment stays
    catdog = [
        {**ev, "shape": [None, 64, 64, 3]} if ev["type"] == "input" else ev for ev in DIGITS_EVENTS
    ]
    _write_events(tmp_path / "catdog", catdog)
    assert inapplicable_knobs(space, baseline_facts(tmp_path / "catdog")) == {}
    _write_events(tmp_path / "digits", DIGITS_EVENTS)
    assert list(inapplicable_knobs(space, baseline_facts(tmp_path / "digits"))) == ["keras.augment"]
    digits = inapplicable_knobs(space, {"input_shape": [None, 8, 8, 1]})
    assert list(digits) == ["keras.augment"] and "8x8" in digits["keras.augment"]
    assert inapplicable_knobs(space, {"input_shape": [None, 64, 64, 3]}) == {}  # cat/dog-like
    assert inapplicable_knobs(space, {"input_shape": [None, 32, 32, 3]}) == {}  # the threshold
    assert "not images" in (augment_cannot_apply([None, 13]) or "")
    assert inapplicable_knobs(space, {}) == {}  # input unknown (not Keras): kept
    assert inapplicable_knobs({"x": {}}, {"input_shape": [None, 8, 8, 1]}) == {}
