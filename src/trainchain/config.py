"""``trainchain.yaml`` -> a frozen pydantic model, in three steps (after cog).

parse (YAML, with line numbers) -> validate (``Config``, ``extra="forbid"``, every error at once)
-> resolve (CLI flags override the file; the detected parts are filled in by the pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from trainchain.errors import ConfigError
from trainchain.tracking.config import TrackingConfig

CONFIG_FILE = "trainchain.yaml"
# Settings that decide where secrets, data and machine resources go: only the operator sets
# them (`trainchain projects add --settings`, the API's options, the command line). A pushed
# trainchain.yaml runs for anyone who can push, so it may tune training but never set these.
OPERATOR_KEYS = ("runtime", "notify", "data", "resources", "tracking", "storage")
# Runs the server starts (the others come from the operator's command line or CI job).
SERVER_TRIGGERS = ("webhook", "poll", "api")
# What the server's runs use unless the operator's project settings say otherwise.
SERVER_DEFAULTS: dict[str, Any] = {"runtime": "docker"}
MAX_YAML_BYTES = 256 * 1024
MAX_YAML_NODES = 20_000


class ParamSpec(BaseModel):
    """A declared search dimension: ``lr: {type: float, low: 1e-4, high: 1e-1, log: true}``.

    The only place ``params:`` entries are checked. Shorthands: a list is categorical
    (``activation: [relu, tanh]``); ``type`` may be left out when ``choices`` or the bounds
    make it clear (two int bounds: int; otherwise float).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["int", "float", "categorical", "bool"] = Field(description="kind of value")
    low: int | float | None = Field(None, description="lower bound (int/float)")
    high: int | float | None = Field(None, description="upper bound (int/float)")
    log: bool = Field(False, description="sample on a log scale (needs low > 0)")
    step: int | float | None = Field(None, description="sample only low, low+step, ... (no log)")
    choices: list[Any] | None = Field(None, description="values of a categorical")
    default: Any = Field(None, description="baseline value")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        if isinstance(raw, list):
            return {"type": "categorical", "choices": raw}
        if isinstance(raw, dict) and raw.get("type") is None:
            low, high = raw.get("low"), raw.get("high")
            ints = isinstance(low, int) and isinstance(high, int)
            inferred = "categorical" if raw.get("choices") else "int" if ints else "float"
            return {**raw, "type": inferred}
        return raw

    @model_validator(mode="after")
    def _coherent(self) -> ParamSpec:
        if self.type == "categorical" and not self.choices:
            raise ValueError("type categorical needs a non-empty list `choices:`")
        if self.type not in ("int", "float"):
            return self
        low, high = self.low, self.high
        if low is None or high is None:
            raise ValueError(f"type {self.type} needs `low:` and `high:` (got {low!r}, {high!r})")
        if self.type == "int" and not (isinstance(low, int) and isinstance(high, int)):
            raise ValueError(f"type int needs whole-number bounds (got {low!r}, {high!r})")
        if low >= high:
            raise ValueError(f"low {low} must be below high {high}")
        if self.log and low <= 0:
            raise ValueError(f"log: true needs low > 0 (got {low})")
        if self.step is not None and (self.step <= 0 or self.log):
            raise ValueError(f"step {self.step}: give a positive step, and not with log: true")
        if self.step is not None and not _divides(self.step, high - low):
            raise ValueError(f"step {self.step} does not divide high - low ({high} - {low})")
        return self


def _divides(step: float, span: float) -> bool:
    count = span / step
    return abs(count - round(count)) < 1e-9 * max(1.0, abs(count))


def _param_kind(value: Any) -> str:
    return "range" if isinstance(value, dict | list | ParamSpec) else "value"


# A parameter is a search dimension (a mapping or a list) or a fixed baseline value. The
# discriminator picks one, so an error speaks of that form only (no union noise).
ParamEntry = Annotated[
    Annotated[ParamSpec, Tag("range")] | Annotated[int | float | str | bool, Tag("value")],
    Discriminator(_param_kind),
]


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: str | None = Field(None, description="memory limit per trial, e.g. 4g")
    cpus: float | None = Field(None, description="CPUs per trial")
    gpus: float | None = Field(None, ge=0, description="GPUs per trial (ray and docker runtimes)")
    custom: dict[str, float] = Field(
        default_factory=dict, description="Ray custom resources per trial, e.g. {a100: 1}"
    )


class Config(BaseModel):
    """Everything a run can be told. CLI flags override these."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="model name in the registry (default: repo name); letters, digits, . _ -",
    )
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
    pruner: Literal["asha", "hyperband", "median", "none"] = Field(
        "asha",
        description="pruner: asha (successive halving, epochs as the resource), hyperband, "
        "median; each stops chance-level and diverged trials first; none",
    )
    seed: int | None = Field(None, description="sampler seed")
    parallel: int = Field(
        1, ge=1, le=32, description="trials run at once, each with its share of CPUs"
    )
    runtime: Literal["auto", "local", "docker", "ray"] = Field(
        "local", description="where trials run"
    )
    params: dict[str, ParamEntry] = Field(
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
    storage: str | None = Field(
        None, description="shared directory for the runs (a path or file:// URL; operator only)"
    )

    @field_validator("storage")
    @classmethod
    def _local_storage(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from trainchain.paths import storage_path

        try:
            return str(storage_path(value))
        except ConfigError as exc:
            raise ValueError(exc.message) from None

    @field_validator("notify", mode="before")
    @classmethod
    def _parse_notify(cls, value: Any) -> Any:
        if not value:
            return []
        from trainchain.notify.config import parse_notify

        return parse_notify(value)


def load_config(project: Path, shown_as: str | None = None, repository: bool = False) -> Config:
    """Read ``project/trainchain.yaml`` (absent: defaults). Raises ``ConfigError``.

    ``shown_as`` names the file in errors when ``project`` is a copy (the run's snapshot): the
    user fixes their repository's file, not ours. ``repository``: the file comes with pushed
    code (a server run), so operator-only keys in it are an error rather than settings.
    """
    path = project / CONFIG_FILE
    if not path.is_file():
        return Config()
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(
            f"{path}: {path.stat().st_size} bytes is over the {MAX_YAML_BYTES}-byte limit of "
            "trainchain.yaml; keep settings in it, not data"
        )
    text = path.read_text(encoding="utf-8")
    source = shown_as or str(path)
    raw, lines = _parse_yaml(source, text)
    if repository:
        _refuse_operator_keys(raw, source, lines)
    if "storage" in raw:  # the run's directory exists before the file is read
        raise ConfigError(
            f"{source}:{lines.get('storage', 1)}: 'storage' is not read from trainchain.yaml: "
            "pass --storage PATH, set it in the project's settings (`projects add --settings`), "
            "or set TRAINCHAIN_STORAGE"
        )
    return validate(raw, source=source, lines=lines)


def _refuse_operator_keys(raw: dict[str, Any], source: str, lines: dict[str, int]) -> None:
    found = [key for key in OPERATOR_KEYS if key in raw]
    if found:
        where = [f"{source}:{lines.get(k, 1)}: {k!r}" for k in found]
        raise ConfigError(
            "operator-only setting(s) in the repository's trainchain.yaml:\n  "
            + "\n  ".join(where)
            + f"\n{', '.join(found)} decide(s) where secrets, data and machine resources go, so "
            "pushed code cannot set them; remove them from the file and ask the operator to set "
            "them (`trainchain projects add URL --settings FILE`)"
        )


def load_settings_file(path: Path) -> dict[str, Any]:
    """An operator's settings file (``projects add --settings``): trainchain.yaml's keys."""
    raw, _ = _parse_yaml(str(path), path.read_text(encoding="utf-8"))
    check_operator_settings(raw)
    return raw


def check_operator_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The operator's project settings, validated like trainchain.yaml (``ConfigError``)."""
    unknown = sorted(set(settings) - set(Config.model_fields))
    if unknown:
        raise ConfigError(
            f"unknown project setting(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(Config.model_fields))}"
        )
    validate(dict(settings), source="project settings")
    return dict(settings)


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


def _parse_yaml(path: str, text: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if _expanded_size(node) > MAX_YAML_NODES:  # an alias bomb expands before any check
            raise ConfigError(
                f"{path}: the YAML expands to over {MAX_YAML_NODES} values (aliases repeated "
                "inside aliases); write the settings out plainly"
            )
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}:1: expected a mapping of settings, got {type(raw).__name__}")
    lines: dict[str, int] = {}
    _key_lines(node, "", lines)
    return raw, lines


def _key_lines(node: Any, prefix: str, lines: dict[str, int]) -> None:
    """``{"params.lr.low": 7, ...}``: the line of every key, for errors deep in the file."""
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        key = f"{prefix}{key_node.value}"
        lines[key] = key_node.start_mark.line + 1
        _key_lines(value_node, key + ".", lines)


def _expanded_size(node: yaml.Node | None) -> int:
    """How many nodes the document has once every alias is expanded, counted without
    expanding (a node reached twice counts twice), stopping past the limit."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        sizes[id(n)] = 1  # a recursive alias counts once
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(child) for child in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        sizes[id(n)] = min(total, MAX_YAML_NODES + 1)
        return sizes[id(n)]

    return size(node) if node is not None else 0


def _describe(exc: ValidationError, source: str, lines: dict[str, int]) -> str:
    allowed = ", ".join(sorted(Config.model_fields))
    problems = []
    for err in exc.errors():
        parts = [str(p) for p in err["loc"]]
        if parts[:1] == ["params"] and len(parts) > 2 and parts[2] in ("range", "value"):
            del parts[2]  # the discriminator's tag, not a key of the file
        loc = ".".join(parts)
        known = [".".join(parts[:n]) for n in range(len(parts), 0, -1)]
        line = next((lines[k] for k in known if k in lines), None)
        where = f"{source}:{line}" if line else source
        if err["type"] == "extra_forbidden":
            if len(parts) == 1:
                problems.append(f"{where}: unknown key {loc!r}; allowed keys: {allowed}")
            else:
                nested = _NESTED_KEYS.get(parts[0])
                hint = f"; allowed keys: {', '.join(sorted(nested))}" if nested else ""
                parent = ".".join(parts[:-1])
                problems.append(f"{where}: unknown key {parts[-1]!r} in {parent}{hint}")
        elif err["type"] == "value_error":  # our own checks: the message says what was wrong
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {loc}: {message}")
        else:
            problems.append(f"{where}: {loc}: {err['msg']} (got {_short(err.get('input'))})")
    return "invalid configuration:\n  " + "\n  ".join(problems)


_NESTED_KEYS = {"params": ParamSpec.model_fields, "resources": Resources.model_fields}


def _short(value: Any, limit: int = 200) -> str:
    """A value quoted in an error, cut short: a huge value never floods a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
