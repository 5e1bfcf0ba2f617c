"""The run report: what `trainchain run --json` prints, notifiers send and the API returns.

Built from the store by ``pipeline.build_report``; plain dataclasses so every consumer
(CLI, notify, server, Jenkins stage) shares one shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AttemptReport:
    number: int
    outcome: str
    reason: str = ""
    first_epoch: int | None = None
    last_epoch: int | None = None
    resumed_from: int | None = None  # epoch of the checkpoint this attempt resumed from
    started_at: str | None = None
    ended_at: str | None = None


@dataclass
class TrialReport:
    number: int
    state: str  # TrialState value
    value: float | None
    params: dict[str, Any]
    metric_source: str | None = None
    attempts: list[AttemptReport] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)  # [{"epoch": 1, "metrics": {..}}]
    error: str | None = None
    architecture: dict[str, Any] | None = None  # knobs, layers/params before and after
    seed: int | None = None  # TRAINCHAIN_SEED of every attempt of this trial
    # Complete, but the script failed after training (exception, file:line): shown as a warning
    warning: str | None = None
    adjusted: list[dict[str, Any]] = field(default_factory=list)  # training arguments changed
    # the epoch whose weights were kept ({"epoch", "value", "metric"}) and why fit ended early
    best_epoch: dict[str, Any] | None = None
    early_stop: dict[str, Any] | None = None
    probe: str | None = None  # why the search planned this trial (``tuning.diagnosis``)


@dataclass
class MetricSpec:
    name: str
    goal: str  # "maximize" | "minimize"
    target: float


@dataclass
class ModelReport:
    name: str
    version: int
    aliases: list[str]
    path: str


@dataclass
class RunReport:
    run_id: str
    status: str  # RunStatus value
    source: str
    commit: str | None
    branch: str | None
    profile: str | None
    metric: MetricSpec
    baseline: dict[str, Any] | None  # {"value", "params"}
    best: dict[str, Any] | None  # {"trial", "value", "params"}
    trials: list[TrialReport]
    model: ModelReport | None
    error: str | None
    failed_stage: str | None = None
    became_champion: bool = False
    stages: dict[str, str] = field(default_factory=dict)  # stage -> StageState value
    started_at: str | None = None
    ended_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
