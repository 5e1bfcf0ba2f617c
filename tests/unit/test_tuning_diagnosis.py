"""Diagnosis of the baseline's curves, and the regularised probe the rung pruners let train."""

from __future__ import annotations

import math

import optuna
import pytest

from trainchain.tuning import make_pruner, report_baseline
from trainchain.tuning.diagnosis import PROBE_ATTR, Overfit, overfitting, regularised_point

# the cat/dog CNN's baseline (examples/catdog-cnn, 5 epochs, measured): val_loss turns up at
# epoch 5 while the training loss falls, training accuracy 0.81 against 0.74 held out
CATDOG = [
    {"loss": 0.666, "accuracy": 0.592, "val_loss": 0.624, "val_accuracy": 0.707},
    {"loss": 0.570, "accuracy": 0.704, "val_loss": 0.561, "val_accuracy": 0.710},
    {"loss": 0.516, "accuracy": 0.745, "val_loss": 0.527, "val_accuracy": 0.742},
    {"loss": 0.475, "accuracy": 0.771, "val_loss": 0.525, "val_accuracy": 0.739},
    {"loss": 0.422, "accuracy": 0.808, "val_loss": 0.555, "val_accuracy": 0.740},
]
# the same CNN on another seed (measured): val_loss nearly flat at epoch 5 (-0.2%) while loss
# fell 10.0%, training accuracy 0.789 against 0.753
STALLED = [
    {"loss": 0.678, "accuracy": 0.577, "val_loss": 0.624, "val_accuracy": 0.669},
    {"loss": 0.598, "accuracy": 0.680, "val_loss": 0.571, "val_accuracy": 0.712},
    {"loss": 0.548, "accuracy": 0.724, "val_loss": 0.5354, "val_accuracy": 0.738},
    {"loss": 0.4945, "accuracy": 0.763, "val_loss": 0.5265, "val_accuracy": 0.746},
    {"loss": 0.4449, "accuracy": 0.789, "val_loss": 0.5254, "val_accuracy": 0.753},
]
# seed 4 (measured): val_loss 0.5341, 0.5019, 0.5069 over epochs 3-5, loss 0.5231 to 0.4192;
# over the last two epochs the validation loss fell 5.1%, a quarter of the training loss's 19.9%
SEED4 = [
    {"loss": 0.6667, "accuracy": 0.593, "val_loss": 0.6305, "val_accuracy": 0.656},
    {"loss": 0.5832, "accuracy": 0.689, "val_loss": 0.5519, "val_accuracy": 0.723},
    {"loss": 0.5231, "accuracy": 0.742, "val_loss": 0.5341, "val_accuracy": 0.743},
    {"loss": 0.4706, "accuracy": 0.776, "val_loss": 0.5019, "val_accuracy": 0.766},
    {"loss": 0.4192, "accuracy": 0.804, "val_loss": 0.5069, "val_accuracy": 0.764},
]
# a stall only the two-epoch window shows: the last epoch alone still follows the training loss
STALLED_TWO = [
    {"loss": 0.70, "accuracy": 0.55, "val_loss": 0.66, "val_accuracy": 0.60},
    {"loss": 0.60, "accuracy": 0.70, "val_loss": 0.55, "val_accuracy": 0.70},
    {"loss": 0.50, "accuracy": 0.78, "val_loss": 0.56, "val_accuracy": 0.71},
    {"loss": 0.48, "accuracy": 0.80, "val_loss": 0.55, "val_accuracy": 0.72},
]
# the digits CNN's baseline (learning rate 1e-4): both losses still falling, no gap
UNDERFIT = [
    {
        "loss": 2.2 - 0.2 * i,
        "accuracy": 0.3 + 0.08 * i,
        "val_loss": 2.25 - 0.2 * i,
        "val_accuracy": 0.3 + 0.08 * i,
    }
    for i in range(6)
]


def test_an_overfitting_baseline_is_named_with_its_evidence() -> None:
    found = overfitting(CATDOG, "val_accuracy")
    assert found is not None
    assert "val_loss rose from 0.525 (epoch 4) to 0.555 (epoch 5)" in found.why
    assert "accuracy 0.808 against val_accuracy 0.740" in found.why
    assert overfitting(CATDOG, "val_loss", "minimize") is not None  # the losses decide
    stalled = overfitting(STALLED, "val_accuracy")
    assert stalled is not None
    assert "val_loss went from 0.5265 to 0.5254 (-0.2%) over epoch 5 while loss fell 10.0%" in (
        stalled.why
    )
    # seed 4: one epoch up by 1% (under the 2% of a rise) while the training loss fell 10.9%
    turned = overfitting(SEED4, "val_accuracy")
    assert turned is not None and "(+1.0%) over epoch 5 while loss fell 10.9%" in turned.why
    # the last epoch alone: -1.8% against a 4% fall (under 5%: hardly learning); the last two
    assert "over epochs 3-4" in (overfitting(STALLED_TWO, "val_accuracy") or Overfit("")).why


@pytest.mark.parametrize(
    ("epochs", "why"),
    [
        (UNDERFIT, "still learning"),
        (CATDOG[:2], "too few epochs"),
        ([{**e, "val_loss": math.nan} for e in CATDOG], "no finite validation loss"),
        ([{k: v for k, v in e.items() if k != "val_loss"} for e in CATDOG], "no held-out loss"),
        # the validation loss rose, but so did the training loss: divergence, not overfitting
        ([*CATDOG[:4], {**CATDOG[4], "loss": 0.6}], "both losses rose"),
        # a last epoch 1% above the minimum while the training loss hardly moves: noise
        (
            [
                *CATDOG[:2],
                {**CATDOG[2], "val_loss": 0.56, "loss": 0.50},
                {**CATDOG[3], "val_loss": 0.52, "loss": 0.49},
                {**CATDOG[4], "val_loss": 0.525, "loss": 0.475},
            ],
            "noise at convergence",
        ),
        # a stall while the training loss hardly moves either: converged, not overfitting
        ([*STALLED[:3], {**STALLED[3], "loss": 0.54}, {**STALLED[4], "loss": 0.535}], "flat"),
        # the validation loss still falls at a third of the training loss's pace: learning
        ([*STALLED[:4], {**STALLED[4], "val_loss": 0.5000}], "still generalising"),
        # held-out accuracy as high as training accuracy: no generalisation gap
        ([*CATDOG[:4], {**CATDOG[4], "val_accuracy": 0.79}], "no gap"),
    ],
)
def test_no_overfitting_without_the_evidence(epochs: list[dict[str, float]], why: str) -> None:
    assert overfitting(epochs, "val_accuracy") is None, why


def _distributions() -> dict[str, optuna.distributions.BaseDistribution]:
    D = optuna.distributions
    return {
        "lr": D.FloatDistribution(1e-4, 1e-2, log=True),
        "keras.augment": D.CategoricalDistribution(["none", "flip", "flip_rotate"]),
        "keras.batchnorm": D.CategoricalDistribution([False, True]),
        "keras.dropout": D.FloatDistribution(0.0, 0.25),
        "keras.extra_conv_blocks": D.IntDistribution(0, 2),
    }


def test_the_regularised_point_is_the_baseline_with_the_knobs_the_space_has() -> None:
    baseline = {"lr": 0.001, "keras.augment": "none", "keras.dropout": 0.0, "unknown": 3}
    point = regularised_point(baseline, _distributions())
    assert point == {
        "lr": 0.001,
        "keras.augment": "flip",
        "keras.batchnorm": True,
        "keras.dropout": 0.25,  # 0.3 clipped into the range
        "keras.extra_conv_blocks": 1,
    }
    small = {k: v for k, v in _distributions().items() if k != "keras.augment"}  # 8x8 inputs
    assert "keras.augment" not in (regularised_point(baseline, small) or {})
    assert regularised_point(baseline, {"lr": _distributions()["lr"]}) is None


def test_a_probe_is_not_stopped_at_the_rungs_but_competes_there() -> None:
    """Behind the baseline at epoch 2 (as the regularised cat/dog CNN is), a probe trains on;
    the same curve without the probe mark is pruned, and the probe's rung value is recorded."""
    pruner = make_pruner("asha", resource=18, chance=0.5)  # rungs at epochs 2, 6, 18
    slow_start = [0.51, 0.646, 0.72, 0.74, 0.76, 0.79, 0.81]
    study = optuna.create_study(direction="maximize", pruner=pruner)
    report_baseline(study, [(1, 0.707), (2, 0.71), (3, 0.742), (4, 0.739), (5, 0.74)])
    study.enqueue_trial({}, user_attrs={PROBE_ATTR: "the baseline overfits"})
    for marked in (True, False):
        trial = study.ask()
        assert bool(trial.user_attrs.get(PROBE_ATTR)) is marked
        stopped = None
        for epoch, value in enumerate(slow_start, 1):
            trial.report(value, epoch)
            if trial.should_prune():
                stopped = epoch
                break
        assert stopped == (None if marked else 2)
        study.tell(trial, max(slow_start[: stopped or len(slow_start)]))
    assert study.trials[1].system_attrs.get("completed_rung_0") == 0.646
    # a chance-level probe is still stopped: the guard is not a rung
    trial = study.ask()
    study.enqueue_trial({}, user_attrs={PROBE_ATTR: "x"})
    probe = study.ask()
    for epoch in (1, 2, 3):
        probe.report(0.5, epoch)
    assert probe.should_prune()
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
