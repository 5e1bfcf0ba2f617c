"""The search space: derived from discovered parameters, or declared in trainchain.yaml.

Pure data (no Optuna import): each parameter maps to
``{"type": "int"|"float"|"categorical"|"bool", "low", "high", "log", "choices", "why"}``
(unused keys are ``None``; ``why`` says where the bounds came from). The tuner turns these
into Optuna distributions.

What a parameter does comes first: when its value flows into a framework argument that the
argument table knows (``Parameter.flows_into``, ``detection/arguments.json``), the range is the
band its role gives around the default, widened to the argument's useful band and clipped to
its limits (``C = 1e-8`` to ``LogisticRegression`` -> ``1e-4 .. 100``). A parameter that flows
into ``steps_per_epoch`` is held open (``full_pass``) until ``resolve_space`` gets the sizes
the baseline saw: up to one full pass. Otherwise, the rules by name below.

Rules for a discovered parameter, by its name (case-insensitive) and type; ``d`` is its
default, or ``baseline_value`` when it has none (a prompt or a required option):

- choices (argparse ``choices=``, ``click.Choice``) -> categorical over them; booleans -> bool.
- click ``IntRange``/``FloatRange`` -> those bounds.
- epochs (``epochs``, ``no_of_epoch``, ``max_epochs``) -> int ``max(1, d//2)`` ..
  ``max(d*4, 20)`` capped at 100 (never below ``d``).
- batch size (``batch``) -> int, log, ``max(4, d//4)`` .. ``max(d*4, 64)`` capped at 1024.
- learning rate (``lr``, ``learning_rate``, ``eta``) -> float, log, ``d/10`` .. ``d*10``
  widened to cover 1e-4 .. 1e-2 (where Adam-family rates that train usually lie: a weak
  default such as 1e-4 must not keep the search below it), clipped to [1e-5, 1] (the table's
  ``roles.lr`` row).
- layer counts (``layers``, ``blocks``, ``add_layers``) -> int from 0 (``add_``/``extra_``
  names or ``d == 0``) or 1 to ``max(d*2, d+2, 3)`` capped at 8 (unless ``d`` is larger).
- widths (``units``, ``filters``, ``neurons``, ``hidden``, ``channels``, ``dim``, ``width``,
  ``leaves``) -> int, log, ``max(1, d//4)`` .. ``d*4``.
- counts (``n_estimators``, ``trees``, ``rounds``, ``iter``, ``steps``, ``steps_per_epoch``)
  -> int, log,
  ``max(1, d//2)`` .. ``max(d*10, 100)``.
- tree depth (``max_depth``, ``depth``) -> int 1 .. ``max(d*4, 16)``.
- dropout -> float 0 .. ``max(0.5, min(2d, 0.9))``; momentum/beta -> float 0 .. 0.99;
  subsample/colsample -> float 0.5 .. 1.
- regularisation (``alpha``, ``l1``, ``l2``, ``weight_decay``, ``reg``, ``lambda``, ``C``,
  ``gamma``) -> float, log, ``d/100`` .. ``d*100``.
- other ints: ``max(1, d//2)`` .. ``max(d*2, d+2)`` (0 .. 4 when ``d == 0``); other floats:
  log ``d/4`` .. ``d*4`` (0 .. 1 when ``d == 0``).
- strings: ``optimizer``, ``activation``, ``max_features``, ``criterion`` and ``kernel``
  values become categorical over common choices (when the default is one of them);
  any other string, a list, a seed, an input size or a data split (``test_size``,
  ``validation_split``: tuning it would game the metric) is not searched.

A profile adds its framework's knobs (``Profile.knobs``): the Keras profiles' are described in
``trainchain.profiles.keras``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from trainchain.agent import FULL_PASS_STEPS
from trainchain.detection.arguments import (
    FULL_PASS,
    ArgumentRule,
    first_rule,
    role_rule,
)
from trainchain.errors import ConfigError

if TYPE_CHECKING:
    from trainchain.detection.result import Detection

Spec = dict[str, Any]

_KINDS = (  # first match wins; order matters (max_depth before layers, lr before reg)
    (
        "skip",
        r"seed|random_state|verbos|test_size|val(idation)?_(split|size|frac|steps)|^split$|"
        r"img|image|height|shape|target_size|resolution|seq_len|max_len|workers|jobs",
    ),
    ("count", r"steps_per_epoch|^steps$"),
    ("epochs", r"epoch"),
    ("batch", r"batch|^bs$"),
    ("lr", r"(^|_)(lr|eta|learning_?rate)($|_)|learningrate"),
    ("depth", r"depth"),
    ("layers", r"layer|block"),
    ("dropout", r"drop"),
    ("momentum", r"momentum|^beta"),
    ("fraction", r"subsample|colsample|bagging_fraction|feature_fraction"),
    ("count", r"estimators|trees|rounds|iter|steps"),
    ("width", r"unit|filter|neuron|hidden|channel|(^|_)dim|width|leaves|nodes|d_model|embed"),
    ("reg", r"alpha|(^|_)l[12]($|_)|weight_decay|(^|_)reg|lambda|^c$|gamma|decay"),
)
# every role a parameter can play; "steps" (one pass) and "skip" come from the argument table
ROLES = frozenset({kind for kind, _ in _KINDS} | {"steps"})
_COMPILED = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _KINDS)
_CATEGORIES = {
    "optimizer": ["adam", "sgd", "rmsprop", "adamw", "nadam"],
    "activation": ["relu", "tanh", "elu", "selu", "gelu"],
    "features": ["sqrt", "log2"],  # max_features of tree ensembles
    "criterion": ["gini", "entropy", "log_loss"],
    "kernel": ["rbf", "linear", "poly", "sigmoid"],
}
BASELINES = {
    "epochs": 5,
    "batch": 32,
    "lr": 1e-3,
    "layers": 1,
    "width": 64,
    "count": 100,
    "depth": 5,
    "dropout": 0.2,
    "momentum": 0.9,
    "fraction": 1.0,
    "reg": 1e-4,
}
_LABEL = re.compile(r"name|tag|title|label|prefix|suffix|run_id", re.I)


def kind_of(name: str) -> str | None:
    """The role a parameter name suggests (``epochs``, ``lr``, ``layers``...), or None."""
    for kind, pattern in _COMPILED:
        if pattern.search(name):
            return kind
    return None


Knobs = Callable[["Detection", set[str | None]], dict[str, Spec]]


def derive_space(detection: Detection, knobs: Knobs | None = None) -> dict[str, Spec]:
    """The search space of a detected project (see the module docstring for the rules).

    ``knobs`` is the chosen profile's ``Profile.knobs``: its framework knobs given the roles
    the script's own parameters already play (``trainchain.profiles.search_space`` passes it).
    """
    space: dict[str, Spec] = {}
    roles: set[str | None] = set()
    for param in detection.parameters:
        data = param.to_dict()
        roles.add(role_of(data))
        spec = param_space(data)
        if spec is not None:
            space[param.name] = spec
    if knobs is not None:
        space.update(knobs(detection, roles))
    return space


def role_of(param: Mapping[str, Any]) -> str | None:
    """What a parameter does: the role of the argument it flows into, else of its name."""
    known = _known_argument(param)
    return known[1].role if known else kind_of(str(param["name"]))


def _known_argument(param: Mapping[str, Any]) -> tuple[str, ArgumentRule] | None:
    """The first argument the parameter reaches that the table knows, if its type fits."""
    known = first_rule(tuple(param.get("flows_into") or ()))
    if known is None:
        return None
    ptype, rule = param.get("type", "str"), known[1]
    if rule.role == "skip":
        return known
    if ptype not in ("int", "float") or (rule.type == "int" and ptype == "float"):
        return None  # a string or a fraction where the argument counts: the name decides
    if rule.type == "float" and ptype == "int" and param.get("source") != "constant":
        return None  # an int-typed option or prompt cannot take a fractional value
    return known


def param_space(param: Mapping[str, Any]) -> Spec | None:
    """The range of one discovered parameter (``Parameter.to_dict()``), or None if not searched.

    Every spec says in ``why`` where its bounds came from.
    """
    name, ptype = str(param["name"]), param.get("type", "str")
    if param.get("choices"):
        return make_spec("categorical", choices=list(param["choices"]), why="the script's choices")
    if ptype == "bool":
        return make_spec("bool", choices=[False, True], why="a flag")
    known = _known_argument(param)
    kind = known[1].role if known else kind_of(name)
    if kind == "skip" or ptype not in ("int", "float", "str"):
        return None
    if ptype == "str":
        options = _CATEGORIES.get(name.lower().rsplit("_", 1)[-1])
        default = param.get("default")
        if options and isinstance(default, str) and default.lower() in options:
            return make_spec(
                "categorical",
                choices=[default, *(o for o in options if o != default)],
                why=f"common values of {name.lower().rsplit('_', 1)[-1]}",
            )
        return None
    if param.get("low") is not None and param.get("high") is not None:
        low, high = param["low"], param["high"]
        log = kind in ("lr", "reg", "width", "count", "batch") and low > 0
        return make_spec(ptype, low=low, high=high, log=log, why="the option's own range")
    center: Any = param.get("default")
    has_default = isinstance(center, int | float) and not isinstance(center, bool)
    if not has_default:
        center = baseline_value(dict(param))
    if known is not None:
        flow, rule = known
        return argument_space(ptype, flow, rule, center if has_default else None, center)
    by_name = role_rule(kind)
    if by_name is not None:
        return argument_space(
            ptype, f"{name} (by its name)", by_name, center if has_default else None, center
        )
    spec = (
        _int_space(kind, int(center), name) if ptype == "int" else _float_space(kind, float(center))
    )
    if spec is not None:
        spec["why"] = f"by its name ({kind or 'no known role'}), around {_fmt(center)}"
    return spec


def argument_space(
    ptype: str, flow: str, rule: ArgumentRule, default: Any, center: Any
) -> Spec | None:
    """The band around ``center`` its role gives, widened to the argument's useful band and
    clipped to its limits (a default outside the limits does not pull the range with it)."""
    type_ = rule.type or ptype
    if rule.role == "steps":
        spec = make_spec("int", why=f"{flow} ({rule.why})")
        spec.update(full_pass="train", center=default)
        return spec
    around = None
    if rule.role and isinstance(center, int | float) and not math.isnan(center):
        around = (
            _int_space(rule.role, int(center), "")
            if type_ == "int"
            else _float_space(rule.role, float(center))
        )
    lows: list[tuple[float, str]] = []
    highs: list[tuple[float, str]] = []
    if around is not None:
        near = f"around the {'default' if default is not None else 'baseline value'} {_fmt(center)}"
        lows.append((around["low"], near))
        highs.append((around["high"], near))
    if rule.low is not None and rule.high is not None:
        lows.append((rule.low, "the argument's useful band"))
        highs.append((rule.high, "the argument's useful band"))
    if not lows:
        return None
    low, low_why = min(lows)
    high, high_why = max(highs)
    if rule.min is not None and low < rule.min:
        low, low_why = rule.min, "the argument's limit"
    if rule.max is not None and high > rule.max:
        high, high_why = rule.max, "the argument's limit"
    if type_ == "int":
        low, high = math.ceil(low), math.floor(high)
    if low >= high:
        return None
    log = bool(rule.log or (around and around["log"])) and low > 0
    why = f"{flow} ({rule.why}): low {_fmt(low)} {low_why}, high {_fmt(high)} {high_why}"
    if default is not None and not low <= default <= high:
        why += f"; the default {_fmt(default)} lies outside"
    return make_spec(type_, low=low, high=high, log=log, why=why)


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def make_spec(
    type_: str,
    low: Any = None,
    high: Any = None,
    log: bool = False,
    choices: list[Any] | None = None,
    why: str = "",
) -> Spec:
    return {"type": type_, "low": low, "high": high, "log": log, "choices": choices, "why": why}


def _int_space(kind: str | None, d: int, name: str) -> Spec | None:
    if kind == "epochs":
        return int_spec(max(1, d // 2), max(min(max(d * 4, 20), 100), d))
    if kind == "batch":
        return int_spec(max(4, d // 4), max(min(max(d * 4, 64), 1024), d), log=True)
    if kind == "layers":
        low = 0 if d == 0 or re.match(r"(add|extra)", name, re.I) else 1
        return int_spec(low, max(min(max(d * 2, d + 2, 3), 8), d))
    if kind == "width":
        return int_spec(max(1, d // 4), max(d * 4, 4), log=True)
    if kind == "count":
        return int_spec(max(1, d // 2), max(d * 10, 100), log=True)
    if kind == "depth":
        return int_spec(1, max(d * 4, 16))
    if d < 0:
        return None
    return int_spec(0, 4) if d == 0 else int_spec(max(1, d // 2), max(d * 2, d + 2))


def int_spec(low: int, high: int, log: bool = False) -> Spec:
    return make_spec("int", low=low, high=max(high, low + 1), log=log)


def _float_space(kind: str | None, d: float) -> Spec | None:
    if kind == "lr":
        d = d if d > 0 else 1e-3
        return make_spec("float", d / 10, d * 10, log=True)
    if kind == "dropout":
        return make_spec("float", 0.0, max(0.5, min(d * 2, 0.9)))
    if kind == "momentum":
        return make_spec("float", 0.0, 0.99)
    if kind == "fraction":
        return make_spec("float", 0.5, 1.0)
    if kind == "reg":
        return make_spec("float", d / 100, d * 100, log=True) if d > 0 else None
    if d < 0 or math.isnan(d):
        return None
    return make_spec("float", 0.0, 1.0) if d == 0 else make_spec("float", d / 4, d * 4, log=True)


def resolve_space(
    space: Mapping[str, Spec], sizes: Mapping[str, Any] | None
) -> tuple[dict[str, Spec], list[str]]:
    """Fill in the bounds known only after the baseline: a parameter that flows into
    ``steps_per_epoch`` ranges up to one full pass over the training input, whose length the
    baseline's ``data`` event gave (``sizes``). Returns the space and a note per change."""
    out: dict[str, Spec] = {}
    notes: list[str] = []
    for name, spec in space.items():
        if not spec.get("full_pass"):
            out[name] = dict(spec)
            continue
        seen = sizes or {}
        batches, center = seen.get("train_batches"), spec.get("center")
        if isinstance(batches, int) and batches >= 2:
            low = (
                max(1, center // 2)
                if isinstance(center, int) and center < batches
                else max(1, batches // 4)
            )
            what = f"{batches} batches" + (
                f" of {seen['batch_size']}" if seen.get("batch_size") else ""
            )
            why = (
                f"{spec['why']}: low {low} "
                + ("half the default" if low != max(1, batches // 4) else "a quarter pass")
                + f", high {batches} one full pass ({what}, as the baseline saw)"
            )
            out[name] = {**spec, "low": low, "high": batches, "why": why}
        elif isinstance(center, int) and center < FULL_PASS_STEPS:
            around = int_spec(max(1, center // 2), center * 4)
            around["why"] = (
                f"{spec['why']}; the length of one pass is unknown (the baseline "
                f"reported none): around the default {center}"
            )
            out[name] = {**spec, **around}
        else:
            notes.append(
                f"{name} is not searched: the length of the training input is unknown "
                "(the baseline reported none), so it stays one full pass"
            )
            continue
        notes.append(f"{name}: {out[name]['low']} .. {out[name]['high']} ({out[name]['why']})")
    return out, notes


def describe(spec: Mapping[str, Any]) -> str:
    """``low .. high`` (or the choices) of a spec, for people."""
    if spec.get("choices") is not None:
        return str(spec["choices"])
    if spec.get("full_pass"):
        return "1/4 pass .. one full pass (sizes from the baseline)"
    return f"{_fmt(spec['low'])} .. {_fmt(spec['high'])}" + (" (log)" if spec.get("log") else "")


def baseline_value(param: Mapping[str, Any]) -> Any:
    """The value for a parameter in the baseline trial.

    Its default when it has one; else the first choice; ``False`` for a bool; else by name:
    epochs 5, batch size 32, learning rate 1e-3, layer counts 1, widths 64, estimator counts
    100, depth 5, dropout 0.2, momentum 0.9, subsample 1.0, regularisation 1e-4 (``C`` 1.0);
    any other int 1 and float 0.1; a string named like a label (``name``, ``tag``, ``title``,
    ``prefix``) ``"trainchain"``. Any other string (a path, a URL) has no safe guess:
    ConfigError naming ``--param``.
    """
    if param.get("default") is not None:
        return param["default"]
    if param.get("choices"):
        return list(param["choices"])[0]
    name, ptype = str(param["name"]), param.get("type", "str")
    if ptype == "bool":
        return False
    known = _known_argument(param)
    if ptype in ("int", "float") and known is not None and known[1].default == FULL_PASS:
        return FULL_PASS_STEPS  # the agent clamps it to one pass over the training input
    if ptype in ("int", "float"):
        kind = known[1].role if known else kind_of(name)
        fallback = 1 if ptype == "int" else 0.1
        value: float = 1.0 if name.lower() == "c" else BASELINES.get(kind or "", fallback)
        if known is not None and isinstance(known[1].default, int | float):
            value = known[1].default
        if param.get("low") is not None:
            value = max(value, param["low"])
        if param.get("high") is not None:
            value = min(value, param["high"])
        return int(value) if ptype == "int" else float(value)
    if ptype == "str" and _LABEL.search(name):
        return "trainchain"  # a name or tag only labels the output; any word works
    source = param.get("source", "")
    raise ConfigError(
        f"parameter {name!r} ({source or 'script'} {ptype}, no default) has no value: set it "
        f"with `--param {name}=VALUE` or under params: in trainchain.yaml"
    )


def space_from_config(declared: Mapping[str, Any]) -> dict[str, Spec]:
    """``params:`` search dimensions of trainchain.yaml in the space's shape.

    Validation is ``config.ParamSpec``'s alone (the same rules and messages as ``load_config``);
    entries may be validated ``ParamSpec`` objects or their stored (JSON) form.
    """
    from trainchain.config import ParamSpec, validate

    ranges = {name: raw for name, raw in declared.items() if not isinstance(raw, ParamSpec)}
    checked = validate({"params": ranges}, source="trainchain.yaml").params if ranges else {}
    space: dict[str, Spec] = {}
    for name, raw in declared.items():
        spec = raw if isinstance(raw, ParamSpec) else checked[name]
        if isinstance(spec, ParamSpec):
            space[str(name)] = _config_spec(spec)
    return space


def _config_spec(spec: Any) -> Spec:
    why = "declared in trainchain.yaml"
    if spec.type == "bool":
        return make_spec("bool", choices=[False, True], why=why)
    if spec.type == "categorical":
        return make_spec("categorical", choices=list(spec.choices), why=why)
    numeric = int if spec.type == "int" else float
    out = make_spec(spec.type, numeric(spec.low), numeric(spec.high), log=spec.log, why=why)
    if spec.step is not None:
        out["step"] = numeric(spec.step)
    return out
