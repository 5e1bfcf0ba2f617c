"""``trainchain.yaml`` -> a frozen pydantic model, in three steps (after cog).

parse (YAML, with line numbers) -> validate (``Config``, ``extra="forbid"``, every error at once)
-> resolve (CLI flags override the file; the detected parts are filled in by the pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trainchain.errors import ConfigError
from trainchain.tracking.config import TrackingConfig

CONFIG_FILE = "trainchain.yaml"


class ParamSpec(BaseModel):
    """A declared search dimension: ``lr: {type: float, low: 1e-4, high: 1e-1, log: true}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["int", "float", "categorical", "bool"] = Field(description="kind of value")
    low: int | float | None = Field(None, description="lower bound (int/float)")
    high: int | float | None = Field(None, description="upper bound (int/float)")
    log: bool = Field(False, description="sample on a log scale")
    step: int | float | None = Field(None, description="grid step (int/float)")
    choices: list[Any] | None = Field(None, description="values of a categorical")
    default: Any = Field(None, description="baseline value")


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: str | None = Field(None, description="memory limit per trial, e.g. 4g")
    cpus: float | None = Field(None, description="CPUs per trial")


class Config(BaseModel):
    """Everything a run can be told. CLI flags override these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="model name in the registry (default: repo name)")
    entrypoint: str | None = Field(None, description="script or notebook to train")
    profile: str | None = Field(None, description="force a profile instead of detecting it")
    metric: str = Field("auto", description="metric to optimize; auto prefers held-out metrics")
    goal: Literal["maximize", "minimize"] = Field("maximize", description="direction")
    target: float = Field(0.80, description="stop tuning once the metric reaches this")
    max_trials: int = Field(20, ge=1, description="trials in all, baseline included")
    timeout: float | None = Field(None, gt=0, description="wall-time budget of tuning, seconds")
    max_epochs_total: int | None = Field(None, ge=1, description="epochs summed over trials")
    trial_timeout: float | None = Field(None, gt=0, description="seconds one trial may take")
    tune: bool = Field(True, description="tune when the baseline is below the target")
    sampler: Literal["tpe", "random", "cmaes", "grid"] = Field("tpe", description="Optuna sampler")
    pruner: Literal["median", "hyperband", "none"] = Field("median", description="Optuna pruner")
    seed: int | None = Field(None, description="sampler seed")
    parallel: int = Field(
        1, ge=1, le=32, description="trials run at once, each with its share of CPUs"
    )
    runtime: Literal["auto", "local", "docker"] = Field("local", description="where trials run")
    params: dict[str, ParamSpec | int | float | str | bool] = Field(
        default_factory=dict,
        description="a fixed value (baseline) or a search dimension, per parameter",
    )
    data: dict[str, str] = Field(
        default_factory=dict, description="NAME: PATH, visible as ./NAME to the script"
    )
    args: list[str] = Field(default_factory=list, description="extra arguments to the script")
    resources: Resources = Field(default_factory=Resources, description="limits per trial")
    max_restarts: int = Field(3, ge=0, description="restarts of a crashed attempt")
    stall_timeout: float | None = Field(None, gt=0, description="seconds without output = hang")
    notify: list[Any] = Field(default_factory=list, description="notification channels")
    tracking: TrackingConfig = Field(
        default_factory=TrackingConfig, description="optional export to MLflow (mlflow_uri: ...)"
    )

    @field_validator("notify", mode="before")
    @classmethod
    def _parse_notify(cls, value: Any) -> Any:
        if not value:
            return []
        from trainchain.notify.config import parse_notify

        return parse_notify(value)


def load_config(project: Path) -> Config:
    """Read ``project/trainchain.yaml`` (absent: defaults). Raises ``ConfigError``."""
    path = project / CONFIG_FILE
    if not path.is_file():
        return Config()
    text = path.read_text(encoding="utf-8")
    raw, lines = _parse_yaml(path, text)
    return validate(raw, source=str(path), lines=lines)


def validate(
    raw: dict[str, Any], source: str = CONFIG_FILE, lines: dict[str, int] | None = None
) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, lines or {})) from exc


def override(config: Config, **flags: Any) -> Config:
    """CLI flags that were given (not None) replace the file's values, re-validated."""
    given = {k: v for k, v in flags.items() if v is not None}
    if not given:
        return config
    merged = config.model_dump(exclude_unset=False)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return validate(merged, source="command line")


def _parse_yaml(path: Path, text: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        node = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: expected a mapping of settings, got {type(raw).__name__}")
    lines = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
    return raw, lines


def _describe(exc: ValidationError, source: str, lines: dict[str, int]) -> str:
    allowed = ", ".join(sorted(Config.model_fields))
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        top = str(err["loc"][0]) if err["loc"] else ""
        where = f"{source}:{lines[top]}" if top in lines else source
        if err["type"] == "extra_forbidden":
            if len(err["loc"]) == 1:
                problems.append(f"{where}: unknown key {loc!r}; allowed keys: {allowed}")
            else:
                problems.append(f"{where}: unknown key {loc!r}")
        else:
            value = err.get("input")
            problems.append(f"{where}: {loc}: {err['msg']} (got {value!r})")
    return "invalid configuration:\n  " + "\n  ".join(problems)
