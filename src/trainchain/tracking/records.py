"""trainchain trials -> MLflow-shaped records (plain data; no MLflow import here).

Kept apart from the client calls so the conversion rules (string params, last attempt wins,
final metrics) read in one place and the exporter only moves data.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainchain.states import TrialState

if TYPE_CHECKING:
    from trainchain.store import EpochMetric, Run, Trial

log = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation); copied so this module stays import-light.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250

# trainchain TrialState value -> MLflow RunStatus name; a running trial stays open.
STATUS: dict[str, str] = {
    TrialState.COMPLETE: "FINISHED",
    TrialState.FAILED: "FAILED",
    TrialState.PRUNED: "KILLED",
    TrialState.RUNNING: "RUNNING",
}


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    timestamp: int  # milliseconds since the epoch, as MLflow stores it
    step: int


@dataclass(frozen=True)
class TrialRecord:
    """One trial as an MLflow run: name, tags, params, metric points, status and times."""

    number: int
    run_name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[MetricPoint] = field(default_factory=list)
    status: str = "RUNNING"
    start_ms: int | None = None
    end_ms: int | None = None


def to_millis(moment: dt.datetime | None) -> int | None:
    """Store datetimes are naive UTC; MLflow wants integer milliseconds."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def param_values(params: dict[str, Any], where: str) -> dict[str, str]:
    """MLflow params are strings of at most 6000 characters; longer values are cut and logged."""
    out: dict[str, str] = {}
    for key, value in params.items():
        text = (
            value
            if isinstance(value, str)
            else (
                json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
            )
        )
        if len(text) > MAX_PARAM_VALUE:
            log.warning(
                "%s: param %r is %d characters; MLflow keeps %d, the rest is cut",
                where,
                key,
                len(text),
                MAX_PARAM_VALUE,
            )
            text = text[:MAX_PARAM_VALUE]
        out[str(key)[:MAX_KEY]] = text
    return out


def epoch_points(epochs: list[EpochMetric]) -> list[MetricPoint]:
    """Per-epoch metrics, step = epoch; a restarted trial repeats epochs, the last attempt wins."""
    latest: dict[tuple[str, int], tuple[tuple[int, int], MetricPoint]] = {}
    for row in epochs:
        order = (row.attempt, row.id)
        stamp = to_millis(row.at) or 0
        for key, value in (row.metrics or {}).items():
            if not _is_number(value):
                continue
            slot = (str(key)[:MAX_KEY], row.epoch)
            if slot not in latest or latest[slot][0] <= order:
                latest[slot] = (order, MetricPoint(slot[0], float(value), stamp, row.epoch))
    return sorted((p for _, p in latest.values()), key=lambda p: (p.key, p.step))


def final_points(trial: Trial, series: list[MetricPoint]) -> list[MetricPoint]:
    """The trial's final metrics at its last epoch, unless the epoch curve already ends there."""
    finals = {str(k)[:MAX_KEY]: float(v) for k, v in (trial.metrics or {}).items() if _is_number(v)}
    if trial.metric_name and trial.value is not None:
        finals[trial.metric_name[:MAX_KEY]] = float(trial.value)
    step = max((p.step for p in series), default=0)
    stamp = to_millis(trial.ended_at) or max((p.timestamp for p in series), default=0)
    ends = {p.key: p for p in series if p.step == step}
    return [
        MetricPoint(key, value, stamp, step)
        for key, value in sorted(finals.items())
        if not (key in ends and _same(ends[key].value, value))
    ]


def trial_record(run: Run, trial: Trial) -> TrialRecord:
    """Everything the exporter writes for one trial."""
    tags = {
        "trainchain.run": run.id,
        "trainchain.trial": str(trial.number),
        "trainchain.state": trial.state,
        "trainchain.model": run.name,
        "trainchain.commit": run.commit or "",
        "trainchain.profile": run.profile or "",
        "trainchain.branch": run.branch or "",
        "trainchain.metric": trial.metric_name or run.metric_name or "",
        "trainchain.metric_source": trial.metric_source or "",
    }
    if run.commit:
        tags["mlflow.source.git.commit"] = run.commit  # shown by the MLflow UI
    if trial.error:
        tags["trainchain.error"] = trial.error[-MAX_TAG_VALUE:]
    series = epoch_points(list(trial.epochs))
    return TrialRecord(
        number=trial.number,
        run_name=f"trial-{trial.number}",
        tags=tags,
        params=param_values(trial.params or {}, f"run {run.id} trial {trial.number}"),
        metrics=series + final_points(trial, series),
        status=STATUS.get(trial.state, "FINISHED"),
        start_ms=to_millis(trial.started_at),
        end_ms=to_millis(trial.ended_at),
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
