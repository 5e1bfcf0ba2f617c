"""job3 — train: the baseline trial, with the script's own defaults.

Parameters the script cannot default (an ``input()`` prompt, a required option) take their
value from ``--param``/``params:``, or else from a value inferred from the name and type; the
result says which values were chosen so the run can report them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trainchain.errors import ConfigError
from trainchain.trials.runner import TrialResult, TrialRunner

BASELINE_TRIAL = 0


@dataclass(frozen=True)
class BaselinePlan:
    params: dict[str, Any]  # passed to the script
    inferred: dict[str, Any]  # the subset chosen by trainchain (no default, not given)


def parse_param(text: str, kind: str | None = None) -> tuple[str, Any]:
    """``NAME=VALUE`` from the command line, typed as JSON where it parses."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError(f"--param {text!r}: expected NAME=VALUE, e.g. --param epochs=5")
    return name.strip(), coerce(raw.strip(), kind)


def coerce(raw: Any, kind: str | None) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "str":
        return raw
    return value


def plan_baseline(parameters: list[dict[str, Any]], fixed: dict[str, Any]) -> BaselinePlan:
    """Fixed values win; parameters without a default get an inferred value."""
    from trainchain.space import baseline_value

    params = dict(fixed)
    inferred = {}
    for param in parameters:
        name = param["name"]
        if name in params:
            params[name] = coerce(params[name], param.get("type"))
            continue
        if param.get("default") is None and (
            param.get("source") == "prompt" or param.get("required")
        ):
            value = baseline_value(param)
            params[name] = inferred[name] = value
    return BaselinePlan(params, inferred)


def train_baseline(runner: TrialRunner, plan: BaselinePlan) -> TrialResult:
    return runner.run(BASELINE_TRIAL, plan.params)
