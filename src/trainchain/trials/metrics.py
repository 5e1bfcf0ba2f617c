"""Choose a trial's metric from its events, and say where it came from.

Auto (the default) prefers held-out measurements: the script's own SDK metrics, then
``model.evaluate`` results, then the last epoch's ``val_*``, then ``metrics.json``, then printed
test/validation figures, then training accuracy. A named metric is looked up in that order too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from trainchain.states import TrialState

ACCURACY_LIKE = (
    "accuracy",
    "acc",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "f1",
    "f1_score",
    "auc",
    "r2",
    "score",
    "precision",
    "recall",
)
LOSS_LIKE = ("loss", "mse", "mae", "rmse", "mean_squared_error", "mean_absolute_error", "error")
HELD_OUT_PREFIXES = ("test_", "val_", "validation_", "eval_", "final_")


@dataclass
class MetricChoice:
    name: str  # as the user knows it: "accuracy", "val_accuracy", "test_acc"
    value: float
    source: str  # sdk | keras_evaluate | keras_epoch | metrics_json | stdout
    all_metrics: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} ({SOURCE_LABELS.get(self.source, self.source)})"


SOURCE_LABELS = {
    "sdk": "logged by the script",
    "keras_evaluate": "model.evaluate",
    "keras_epoch": "best Keras epoch",
    "metrics_json": "metrics.json",
    "stdout": "printed output",
}


def _base(name: str) -> str:
    low = name.lower()
    for prefix in HELD_OUT_PREFIXES:
        if low.startswith(prefix):
            return low[len(prefix) :]
    return low


def _score(name: str, goal: str) -> int:
    """Higher is a better auto choice for ``goal``; 0 = not a candidate."""
    base = _base(name)
    wanted = ACCURACY_LIKE if goal == "maximize" else LOSS_LIKE
    if base not in wanted:
        return 0
    return 2 + (base == wanted[0] or base == "acc")


def final_metrics(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    """source -> [(name, value)] in order seen (later wins for equal names)."""
    found: dict[str, list[tuple[str, float]]] = {}
    for ev in events:
        if ev.get("type") == "metric" and _is_number(ev.get("value")):
            found.setdefault(str(ev.get("source", "sdk")), []).append(
                (str(ev["name"]), float(ev["value"]))
            )
    kept = best_epoch_metrics(events) or last_epoch_metrics(events)
    if kept:
        found["keras_epoch"] = list(kept.items())
    return found


def best_epoch_metrics(events: list[dict[str, Any]]) -> dict[str, float]:
    """The metrics of the epoch whose weights the agent kept (its last ``best`` event), when
    no fit trained after it; else empty (the last epoch's model is the one kept)."""
    for ev in reversed(events):
        if ev.get("type") == "fit" and not ev.get("skipped"):
            return {}
        if ev.get("type") == "best":
            metrics = ev.get("metrics") or {}
            return {k: float(v) for k, v in metrics.items() if _is_number(v)}
    return {}


def last_epoch_metrics(events: list[dict[str, Any]]) -> dict[str, float]:
    epochs = [ev for ev in events if ev.get("type") == "epoch"]
    if not epochs:
        return {}
    metrics = epochs[-1].get("metrics") or {}
    return {k: float(v) for k, v in metrics.items() if _is_number(v)}


def choose_metric(
    events: list[dict[str, Any]], wanted: str = "auto", goal: str = "maximize"
) -> MetricChoice | None:
    found = final_metrics(events)
    everything = {  # held-out sources override training ones for equal names
        name: value
        for source in ("stdout", "keras_epoch", "metrics_json", "keras_evaluate", "sdk")
        for name, value in found.get(source, [])
    }
    if wanted != "auto":
        for source in ("sdk", "keras_evaluate", "keras_epoch", "metrics_json", "stdout"):
            for name, value in reversed(found.get(source, [])):
                if name.lower() == wanted.lower():
                    return MetricChoice(name, value, source, everything)
        return None
    ranked: list[tuple[str, Callable[[str], bool]]] = [
        ("sdk", lambda n: True),
        ("keras_evaluate", lambda n: True),
        ("keras_epoch", lambda n: n.lower().startswith("val_")),
        ("metrics_json", lambda n: True),
        ("stdout", lambda n: _base(n) != n.lower()),  # printed test/val figures
        ("keras_epoch", lambda n: True),
        ("stdout", lambda n: True),
    ]
    for source, accept in ranked:
        candidates = [(n, v) for n, v in found.get(source, []) if accept(n) and _score(n, goal)]
        if candidates:
            best = max(reversed(candidates), key=lambda nv: _score(nv[0], goal))
            name, value = best
            return MetricChoice(name, value, source, everything)
    return None


def epoch_value(metrics: dict[str, Any], name: str) -> float | None:
    """The value to report to the pruner for one epoch: the chosen metric or its val_ twin."""
    found = epoch_metric(metrics, name)
    return found[1] if found else None


def epoch_metric(metrics: dict[str, Any], name: str) -> tuple[str, float] | None:
    """``epoch_value`` with the name of the metric it read."""
    for key in (f"val_{_base(name)}", name, _base(name)):
        if _is_number(metrics.get(key)):
            return key, float(metrics[key])
    return None


def reaches(value: float | None, target: float, goal: str) -> bool:
    if value is None:
        return False
    return value >= target if goal == "maximize" else value <= target


def better(a: float | None, b: float | None, goal: str) -> bool:
    """Is ``a`` strictly better than ``b``?"""
    if a is None:
        return False
    if b is None:
        return True
    return a > b if goal == "maximize" else a < b


class Scored(Protocol):
    state: str
    value: float | None
    metric_name: str | None


T = TypeVar("T", bound=Scored)


def best_trial(trials: Iterable[T], metric_name: str | None, goal: str) -> T | None:
    """The best complete trial measured on ``metric_name`` (the earliest wins a tie)."""
    best: T | None = None
    for trial in trials:
        if (
            trial.state != TrialState.COMPLETE
            or trial.value is None
            or trial.metric_name != metric_name
        ):
            continue
        if best is None or better(trial.value, best.value, goal):
            best = trial
    return best


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
