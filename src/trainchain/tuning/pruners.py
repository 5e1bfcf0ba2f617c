"""Pruning for small budgets: stop dead trials at once, then successive halving over epochs.

A trial that diverged (NaN/inf) or whose accuracy sits at chance level (the largest class
share of the validation labels, which the agent reports in its ``classes`` event) will not
recover in the epochs a small budget leaves; comparing it with other trials, as the median
or successive halving pruners do, needs other trials at that epoch first, and with only the
baseline to compare against the median pruner let such a trial run all 17 epochs. So
``ChanceLevelPruner`` looks at the trial's own curve first, and asks the wrapped Optuna pruner
(``SuccessiveHalvingPruner``, i.e. ASHA, by default) only for a trial that is alive, and not
for a planned probe (``diagnosis``: the regularised trial after an overfitting baseline).

Why successive halving: epochs are the resource and a trial that survives a rung simply goes
on training (its own weights, in the same process), so ASHA's promotions cost nothing; its
rungs (the first at a ninth of the epoch budget, reduction factor 3) stop a weak trial after a
few epochs, where the median pruner waits for ``n_startup_trials`` finished trials.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import optuna
from optuna.pruners import BasePruner

from trainchain.tuning.budget import min_resource
from trainchain.tuning.diagnosis import PROBE_ATTR

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

REDUCTION_FACTOR = 3
CHANCE_MARGIN = 0.01  # "at chance": within one point of it (noise of a constant predictor)
CHANCE_METRICS = frozenset(
    {"accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy"}
)


def chance_epochs(resource: int | None) -> int:
    """Consecutive epochs at chance level before a trial is stopped: 2, 3 past 10 epochs."""
    return 3 if resource and resource > 10 else 2


def dead_curve(
    curve: list[float], chance: float | None, maximize: bool, patience: int = 2
) -> str | None:
    """Why a trial with these per-epoch values will not recover, or None.

    NaN/inf at any epoch: diverged. Maximizing with a known ``chance``: the last ``patience``
    epochs all at or below it (plus ``CHANCE_MARGIN``).
    """
    if curve and not math.isfinite(curve[-1]):
        return f"diverged: the metric is {curve[-1]} at epoch {len(curve)}"
    if chance is None or not maximize or len(curve) < patience:
        return None
    recent = curve[-patience:]
    if all(v <= chance + CHANCE_MARGIN for v in recent):
        shown = ", ".join(f"{v:.3f}" for v in recent)
        return (
            f"at chance level: {shown} over the last {patience} epochs "
            f"(chance {chance:.3f}, the largest class share)"
        )
    return None


class ChanceLevelPruner(BasePruner):
    """Prune dead trials (``dead_curve``), then whatever ``inner`` prunes.

    Thread-safe as Optuna's pruners are (it keeps only the last reason per trial, under a
    lock); ``reason(number)`` says why a trial was pruned, for the trial's record.
    """

    def __init__(self, inner: BasePruner, chance: float | None, patience: int = 2) -> None:
        self.inner, self.chance, self.patience = inner, chance, patience
        self._reasons: dict[int, str] = {}
        self._lock = threading.Lock()

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        values = trial.intermediate_values
        curve = [values[step] for step in sorted(values)]
        maximize = study.direction == optuna.study.StudyDirection.MAXIMIZE
        why = dead_curve(curve, self.chance, maximize, self.patience)
        if why is None and self.inner.prune(study, trial) and not _is_probe(trial):
            why = f"pruned by {type(self.inner).__name__} at epoch {trial.last_step}: " + (
                _INNER_REASONS.get(type(self.inner).__name__, "behind the other trials")
            )
        if why is None:
            return False
        with self._lock:
            self._reasons[trial.number] = why
        return True

    def reason(self, number: int) -> str:
        with self._lock:
            return self._reasons.get(number, "pruned")


def _is_probe(trial: FrozenTrial) -> bool:
    """A planned probe (``diagnosis.PROBE_ATTR``) trains to its plateau: the inner pruner still
    sees it (its rung values become the other trials' competitors) but does not stop it."""
    return bool(trial.user_attrs.get(PROBE_ATTR))


_INNER_REASONS = {
    "SuccessiveHalvingPruner": f"not in the top 1/{REDUCTION_FACTOR} of the trials at this rung",
    "HyperbandPruner": "not promoted at this Hyperband rung",
    "MedianPruner": "below the median of earlier trials at this epoch",
}


def report_baseline(
    study: Study,
    curve: list[tuple[int, float]],
    point: dict[str, Any] | None = None,
    distributions: dict[str, Any] | None = None,
    value: float | None = None,
) -> None:
    """Put the baseline in the study: its per-epoch values in the rungs, and when ``point``
    (its value of every dimension, ``written.baseline_point``) and ``value`` are known, as a
    complete observation the sampler learns from.

    Successive halving always promotes the first trial to reach a rung, so without the curve
    the first tuning trial trains all its epochs however slowly it learns; with it, it must
    beat the script's defaults at each rung the baseline reached. Without a complete point the
    baseline's Optuna trial has no parameters and ends FAIL: the sampler ignores it (a COMPLETE
    trial missing dimensions would shrink multivariate TPE's search space), the pruners keep
    its rung values.
    """
    complete = point is not None and distributions is not None and value is not None
    if not curve and not complete:
        return
    if complete:
        assert point is not None and distributions is not None
        study.enqueue_trial(point, user_attrs={"trainchain": "baseline (the script as written)"})
        trial = study.ask(distributions)
    else:  # enqueued (with no parameters), so a grid sampler assigns it no grid point
        study.enqueue_trial({}, user_attrs={"trainchain": "baseline curve (rungs only)"})
        trial = study.ask()
    for step, epoch_value in curve:
        trial.report(epoch_value, step)
        trial.should_prune()  # successive halving records the rung values here
    if complete:
        study.tell(trial, value)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def make_pruner(name: str, resource: int | None = None, chance: float | None = None) -> Any:
    """The study's pruner: ``asha`` (default), ``hyperband``, ``median`` or ``none``, each but
    ``none`` behind the chance-level guard. ``resource``: the most epochs a trial trains."""
    P = optuna.pruners
    first = min_resource(resource, REDUCTION_FACTOR) or "auto"
    inner: BasePruner
    if name == "none":
        return P.NopPruner()
    if name == "hyperband":
        inner = P.HyperbandPruner(
            min_resource=first if isinstance(first, int) else 1,
            max_resource=resource or "auto",
            reduction_factor=REDUCTION_FACTOR,
        )
    elif name == "median":
        inner = P.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
    else:
        inner = P.SuccessiveHalvingPruner(min_resource=first, reduction_factor=REDUCTION_FACTOR)
    return ChanceLevelPruner(inner, chance, chance_epochs(resource))
