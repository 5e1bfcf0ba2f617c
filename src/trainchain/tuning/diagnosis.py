"""Read the baseline's curves before searching: a model that overfits gets regularised first.

The tuning playbooks start here (Godbole et al., "Deep Learning Tuning Playbook", Google 2023;
Keras' "Overfit and underfit" tutorial): when the validation loss turns up, or stalls, while
the training loss keeps falling, more of the same model will not help; regularisation will.
A random or TPE start-up trial finds that out by chance, and successive halving then prunes
it, because a regularised model learns more slowly in its first epochs (measured on the cat/dog
CNN: 0.65 after 2 epochs against the baseline's 0.71, then 0.81 at epoch 8 where the baseline
peaked at 0.77 and fell). So after an overfitting baseline the first tuning trial is the
baseline's own point with the regularising knobs the space has turned on, and it is a *probe*:
it trains to its plateau or the target, like the baseline, instead of racing at the rungs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna

from trainchain.trials import optuna_compat

LOSS_RISE = 0.02  # the validation loss at the last epoch this far above its minimum (2%)
# or it stalled: over the last epoch or two it fell by under a quarter of the training loss's fall
STALL_EPOCHS, STALL_SHARE = (1, 2), 0.25
MIN_LEARNING = 0.05  # ... while the training loss fell 5% or more (it still learns)
MIN_GAP = 0.03  # and, for a bounded score (accuracy), training ahead of validation by this much
PROBE_ATTR = "trainchain_probe"  # user attribute of a trial the rung pruners must not stop

# the knobs that regularise a Keras model (``agent.keras_arch``), mildest setting first: one
# flip layer (cheap per epoch, unlike rotation and zoom), batch normalisation, dropout before
# the output, and one more Conv+Pool block, which divides the weights of the first Dense
# layer (most of such a CNN's weights) by four
REGULARISING: dict[str, Any] = {
    "keras.augment": "flip",
    "keras.batchnorm": True,
    "keras.dropout": 0.3,
    "keras.extra_conv_blocks": 1,
}


@dataclass(frozen=True)
class Overfit:
    why: str  # one sentence with the evidence, for the run log and the trial's record


def overfitting(
    epochs: Sequence[dict[str, Any]], metric: str, goal: str = "maximize"
) -> Overfit | None:
    """Whether these per-epoch metrics (the baseline's, in order) show overfitting.

    Overfitting: the validation loss has turned (``_loss_turned``) while the training loss
    kept falling; when ``metric`` is a held-out score to maximize with a training counterpart
    in [0, 1] (``val_accuracy`` / ``accuracy``), training must also be ``MIN_GAP`` ahead at
    the last epoch. Fewer than 3 epochs, or no losses: None (no evidence).
    """
    rows = [e for e in epochs if _finite(e.get("loss")) and _finite(e.get("val_loss"))]
    if len(rows) < 3 or any(float(e["val_loss"]) <= 0 for e in rows):
        return None
    why = _loss_turned([float(e["loss"]) for e in rows], [float(e["val_loss"]) for e in rows])
    if why is None:
        return None
    last = rows[-1]
    train = metric[4:] if metric.startswith("val_") and goal == "maximize" else None
    if train and _finite(last.get(train)) and _finite(last.get(metric)):
        seen, held_out = float(last[train]), float(last[metric])
        if 0 <= held_out <= 1 and 0 <= seen <= 1:
            if seen - held_out < MIN_GAP:
                return None
            why += f"; {train} {seen:.3f} against {metric} {held_out:.3f}"
    return Overfit(why)


def _loss_turned(loss: list[float], val: list[float]) -> str | None:
    """Why the validation loss has stopped following the training loss, or None.

    Either it rose: the last epoch ``LOSS_RISE`` above its minimum while the training loss
    fell after that minimum. Or it stalled: over the last epoch, or the last two, it fell by
    less than ``STALL_SHARE`` of the training loss's relative fall, while that fell by
    ``MIN_LEARNING`` or more (the model still learns, but only the training set).
    """
    low, last = min(range(len(val)), key=val.__getitem__), len(val) - 1
    if low < last and val[last] >= val[low] * (1 + LOSS_RISE) and loss[last] < loss[low]:
        return (
            f"val_loss rose from {val[low]:.4g} (epoch {low + 1}) to {val[last]:.4g} "
            f"(epoch {last + 1}) while loss fell from {loss[low]:.4g} to {loss[last]:.4g}"
        )
    for window in STALL_EPOCHS:
        first = last - window
        if first < 0 or loss[first] <= 0:
            continue
        train_fall = (loss[first] - loss[last]) / loss[first]
        val_fall = (val[first] - val[last]) / val[first]
        if train_fall >= MIN_LEARNING and val_fall < STALL_SHARE * train_fall:
            span = f"epoch {last + 1}" if window == 1 else f"epochs {first + 2}-{last + 1}"
            return (
                f"val_loss went from {val[first]:.4g} to {val[last]:.4g} ({-val_fall:+.1%}) "
                f"over {span} while loss fell {train_fall:.1%} "
                f"({loss[first]:.4g} to {loss[last]:.4g})"
            )
    return None


def regularised_point(
    baseline: dict[str, Any], distributions: dict[str, Any]
) -> dict[str, Any] | None:
    """The baseline's point (as many dimensions as it has) with each regularising knob of
    the space turned on, clipped into its range; None when the space has none of them."""
    knobs: dict[str, Any] = {}
    for name, value in REGULARISING.items():
        dist = distributions.get(name)
        if dist is None:
            continue
        if hasattr(dist, "low") and not isinstance(value, bool):
            value = type(value)(min(max(value, dist.low), dist.high))
        if optuna_compat.distribution_contains(dist, value):
            knobs[name] = value
    if not knobs:
        return None
    return {**{k: v for k, v in baseline.items() if k in distributions}, **knobs}


def queue_probe(
    study: optuna.Study,
    distributions: dict[str, Any],
    epochs: Sequence[dict[str, Any]],
    written: dict[str, Any],
    metric: str,
    goal: str,
) -> str | None:
    """When the baseline's ``epochs`` show overfitting, enqueue the regularised point of
    ``written`` (the baseline's point) as a probe; what was done, for the run log, or None."""
    found = overfitting(epochs, metric, goal)
    if found is None:
        return None
    point = regularised_point(written, distributions)
    if point is None:
        return f"the baseline overfits ({found.why}); the space has no regularising knob"
    study.enqueue_trial(point, user_attrs={PROBE_ATTR: found.why}, skip_if_exists=True)
    knobs = ", ".join(f"{k}={v}" for k, v in point.items() if k in REGULARISING)
    return (
        f"the baseline overfits ({found.why}): the next new trial regularises it ({knobs}) "
        "and trains to its plateau or the target without racing at the rungs"
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 1e300
