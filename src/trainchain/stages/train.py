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
from trainchain.stages.context import StageContext, StageResult, TrialError, split_params
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


def run(ctx: StageContext) -> StageResult:
    """Train trial 0 with the script's defaults (and the fixed values); it sets the metric."""
    from trainchain.agent import FULL_PASS_STEPS

    _, fixed = split_params(ctx.run.config)
    plan = plan_baseline(ctx.detection.get("parameters") or [], fixed)
    for name, value in plan.inferred.items():
        shown = "one full pass over the training input" if value == FULL_PASS_STEPS else repr(value)
        ctx.say(f"baseline: {name} has no default; using {shown} (set --param {name}=VALUE)")
    ctx.announce_plan()
    result = train_baseline(ctx.trial_runner(ctx.config.metric), plan)
    if result.value is None:
        raise TrialError(result.error or f"baseline trial ended {result.state.value}")
    ctx.store.update_run(ctx.run.id, metric_name=result.metric_name)
    return StageResult(
        {
            "trial": BASELINE_TRIAL,
            "value": result.value,
            "metric": result.metric_name,
            "source": result.metric_source,
            "inferred": plan.inferred,
            "params": plan.params,
        }
    )
