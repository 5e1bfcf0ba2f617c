"""The baseline as a point of the search space, and the knobs its run shows cannot apply.

The baseline trains the script as written: every discovered parameter at its default, every
agent knob at its no-op value (``keras.augment`` "none", ``keras.batchnorm`` False, width 1...)
and the optimizer the script compiled with. Told to the study as one complete point, it is
TPE's first observation of every dimension; a partial point would shrink multivariate TPE's
search space to the dimensions it has, so an incomplete one is not told (see
``pruners.report_baseline``).

What the baseline's agent reported (its ``input``, ``optimizer`` and ``fit`` events) also shows
knobs that can never apply to this script: ``keras.augment`` on inputs that are not images of
at least 32x32 (the agent's own rule, ``agent.keras_arch``); such a knob is dropped from the
space instead of wasting a dimension of a small budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from trainchain.agent.keras_arch import MIN_AUGMENT_SIDE
from trainchain.trials import optuna_compat

# the agent knobs' values that leave the script as written (``agent.keras_arch._is_noop``)
NOOP_KNOBS: dict[str, Any] = {
    "keras.width": 1.0,
    "keras.extra_conv_blocks": 0,
    "keras.dropout": 0.0,
    "keras.augment": "none",
    "keras.batchnorm": False,
}


def baseline_facts(run_dir: Path) -> dict[str, Any]:
    """What the baseline's agent reported: ``input_shape``, ``optimizer``, ``learning_rate``,
    ``epochs`` and ``batch_size`` of its (first) fit; the latest attempt's word wins."""
    from trainchain.agent.events import read_events
    from trainchain.trials.workspace import trial_dirs

    root = trial_dirs(run_dir, 0).root
    files = sorted(root.glob("events-*.jsonl"), key=lambda p: int(p.stem.split("-")[1]))
    facts: dict[str, Any] = {}
    for path in files:
        events, _ = read_events(str(path))
        for ev in events:
            kind = ev.get("type")
            if kind == "input" and ev.get("call") == 1:
                facts["input_shape"] = ev.get("shape")
            elif kind == "optimizer":
                facts["optimizer"] = ev.get("name")
                facts["learning_rate"] = ev.get("learning_rate")
            elif kind == "fit" and ev.get("call") == 1:
                facts["epochs"] = ev.get("epochs")
                facts["batch_size"] = ev.get("batch_size")
    return {k: v for k, v in facts.items() if v is not None}


def written_values(
    parameters: list[dict[str, Any]], baseline_params: dict[str, Any], facts: dict[str, Any]
) -> dict[str, Any]:
    """Each parameter's and knob's value in the baseline: what it was given (fixed or inferred),
    else the script's default, else what the agent saw (``keras.*``), else the no-op knob."""
    values: dict[str, Any] = dict(NOOP_KNOBS)
    for knob in ("optimizer", "learning_rate", "epochs", "batch_size"):
        if knob in facts:
            values[f"keras.{knob}"] = facts[knob]
    for param in parameters:
        if param.get("default") is not None:
            values[str(param["name"])] = param["default"]
    values.update(baseline_params)
    return values


def baseline_point(
    distributions: dict[str, Any], written: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(the baseline's value of each dimension, the dimensions without one in their range)."""
    point: dict[str, Any] = {}
    missing: list[str] = []
    for name, dist in distributions.items():
        value = _coerce(written.get(name), dist)
        if value is not None and optuna_compat.distribution_contains(dist, value):
            point[name] = value
        else:
            missing.append(name)
    return point, missing


def _coerce(value: Any, dist: Any) -> Any:
    """An int default of a float dimension as a float (and the reverse when exact)."""
    D = optuna.distributions
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(dist, D.FloatDistribution) and isinstance(value, int):
        return float(value)
    if isinstance(dist, D.IntDistribution) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def inapplicable_knobs(space: dict[str, Any], facts: dict[str, Any]) -> dict[str, str]:
    """Knobs of ``space`` that the baseline's run shows cannot apply -> why."""
    out: dict[str, str] = {}
    shape = facts.get("input_shape")
    if "keras.augment" in space and isinstance(shape, list):
        why = augment_cannot_apply(shape)
        if why:
            out["keras.augment"] = why
    return out


def augment_cannot_apply(shape: list[int | None]) -> str | None:
    """Why ``keras.augment`` never applies to a model with this input shape, or None."""
    if len(shape) != 4:
        return (
            f"the model's input has shape {tuple(shape)}, not images (batch, height, width, "
            "channels): the agent never augments it"
        )
    sides = [d for d in shape[1:3] if isinstance(d, int)]
    if sides and min(sides) < MIN_AUGMENT_SIDE:
        return (
            f"the model's input images are {shape[1]}x{shape[2]} pixels, below "
            f"{MIN_AUGMENT_SIDE}x{MIN_AUGMENT_SIDE}: the agent never augments them"
        )
    return None


def baseline_data_sizes(run_dir: Path) -> dict[str, Any] | None:
    """The sizes of the training input the baseline saw (its agent's first ``data`` event
    with a known length; the latest attempt first), or None."""
    from trainchain.agent.events import read_events
    from trainchain.trials.workspace import trial_dirs

    root = trial_dirs(run_dir, 0).root
    files = sorted(root.glob("events-*.jsonl"), key=lambda p: int(p.stem.split("-")[1]))
    for path in reversed(files):
        events, _ = read_events(str(path))
        for event in events:
            if event.get("type") == "data" and event.get("train_batches"):
                return event
    return None
