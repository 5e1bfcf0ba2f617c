"""The search space: derived from discovered parameters, or declared in trainchain.yaml.

Pure data (no Optuna import): each parameter maps to
``{"type": "int"|"float"|"categorical"|"bool", "low", "high", "log", "choices"}`` (unused keys
are ``None``). The tuner turns these into Optuna distributions.

Rules for a discovered parameter, by its name (case-insensitive) and type; ``d`` is its
default, or ``baseline_value`` when it has none (a prompt or a required option):

- choices (argparse ``choices=``, ``click.Choice``) -> categorical over them; booleans -> bool.
- click ``IntRange``/``FloatRange`` -> those bounds.
- epochs (``epochs``, ``no_of_epoch``, ``max_epochs``) -> int ``max(1, d//2)`` ..
  ``max(d*4, 20)`` capped at 100 (never below ``d``).
- batch size (``batch``) -> int, log, ``max(4, d//4)`` .. ``max(d*4, 64)`` capped at 1024.
- learning rate (``lr``, ``learning_rate``, ``eta``) -> float, log, ``d/10`` .. ``d*10``
  widened to cover 1e-4 .. 1e-2 (where Adam-family rates that train usually lie: a weak
  default such as 1e-4 must not keep the search below it), clipped to [1e-5, 1].
- layer counts (``layers``, ``blocks``, ``add_layers``) -> int from 0 (``add_``/``extra_``
  names or ``d == 0``) or 1 to ``max(d*2, d+2, 3)`` capped at 8 (unless ``d`` is larger).
- widths (``units``, ``filters``, ``neurons``, ``hidden``, ``channels``, ``dim``, ``width``,
  ``leaves``) -> int, log, ``max(1, d//4)`` .. ``d*4``.
- counts (``n_estimators``, ``trees``, ``rounds``, ``iter``, ``steps``) -> int, log,
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

Keras profiles (``keras``, ``keras-legacy``) add the agent's knobs (``KERAS_KNOBS``):
``keras.epochs``, ``keras.batch_size`` and ``keras.learning_rate`` with the rules above, centred
on literal ``fit``/optimizer values when the script writes them, and only when the script has
no parameter of its own for them (``keras.batch_size`` only when ``fit`` gets arrays, not a
generator or dataset); for Sequential models the architecture knobs
``keras.width`` (float 0.5..2, log), ``keras.dropout`` (float 0..0.5) and, for CNNs,
``keras.extra_conv_blocks`` (int 0..2).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trainchain.agent.naming import KERAS_KNOBS
from trainchain.errors import ConfigError

if TYPE_CHECKING:
    from trainchain.detection.result import Detection

Spec = dict[str, Any]

_KINDS = (  # first match wins; order matters (max_depth before layers, lr before reg)
    ("skip", r"seed|random_state|verbos|test_size|val(idation)?_(split|size|frac)|^split$|"
             r"img|image|height|shape|target_size|resolution|seq_len|max_len|workers|jobs"),
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
_COMPILED = tuple((kind, re.compile(pattern, re.I)) for kind, pattern in _KINDS)
_CATEGORIES = {
    "optimizer": ["adam", "sgd", "rmsprop", "adamw", "nadam"],
    "activation": ["relu", "tanh", "elu", "selu", "gelu"],
    "features": ["sqrt", "log2"],  # max_features of tree ensembles
    "criterion": ["gini", "entropy", "log_loss"],
    "kernel": ["rbf", "linear", "poly", "sigmoid"],
}
_BASELINES = {"epochs": 5, "batch": 32, "lr": 1e-3, "layers": 1, "width": 64, "count": 100,
              "depth": 5, "dropout": 0.2, "momentum": 0.9, "fraction": 1.0, "reg": 1e-4}
_LR_USUAL = (1e-4, 1e-2)  # always inside a derived learning-rate range
_LABEL = re.compile(r"name|tag|title|label|prefix|suffix|run_id", re.I)


def kind_of(name: str) -> str | None:
    """The role a parameter name suggests (``epochs``, ``lr``, ``layers``...), or None."""
    for kind, pattern in _COMPILED:
        if pattern.search(name):
            return kind
    return None


def derive_space(detection: Detection) -> dict[str, Spec]:
    """The search space of a detected project (see the module docstring for the rules)."""
    space: dict[str, Spec] = {}
    kinds = set()
    for param in detection.parameters:
        data = param.to_dict()
        kinds.add(kind_of(param.name))
        spec = param_space(data)
        if spec is not None:
            space[param.name] = spec
    if detection.framework == "keras":
        space.update(_keras_knobs(detection, kinds))
    return space


def param_space(param: Mapping[str, Any]) -> Spec | None:
    """The range of one discovered parameter (``Parameter.to_dict()``), or None if not searched."""
    name, ptype = str(param["name"]), param.get("type", "str")
    kind = kind_of(name)
    if param.get("choices"):
        return _spec("categorical", choices=list(param["choices"]))
    if ptype == "bool":
        return _spec("bool", choices=[False, True])
    if kind == "skip" or ptype not in ("int", "float", "str"):
        return None
    if ptype == "str":
        options = _CATEGORIES.get(name.lower().rsplit("_", 1)[-1])
        default = param.get("default")
        if options and isinstance(default, str) and default.lower() in options:
            return _spec("categorical", choices=[default, *(o for o in options if o != default)])
        return None
    if param.get("low") is not None and param.get("high") is not None:
        low, high = param["low"], param["high"]
        log = kind in ("lr", "reg", "width", "count", "batch") and low > 0
        return _spec(ptype, low=low, high=high, log=log)
    center = param.get("default")
    if not isinstance(center, int | float) or isinstance(center, bool):
        center = baseline_value(dict(param))
    if ptype == "int":
        return _int_space(kind, int(center), name)
    return _float_space(kind, float(center))


def _spec(type_: str, low: Any = None, high: Any = None, log: bool = False,
          choices: list[Any] | None = None) -> Spec:
    return {"type": type_, "low": low, "high": high, "log": log, "choices": choices}


def _int_space(kind: str | None, d: int, name: str) -> Spec | None:
    if kind == "epochs":
        return _ints(max(1, d // 2), max(min(max(d * 4, 20), 100), d))
    if kind == "batch":
        return _ints(max(4, d // 4), max(min(max(d * 4, 64), 1024), d), log=True)
    if kind == "layers":
        low = 0 if d == 0 or re.match(r"(add|extra)", name, re.I) else 1
        return _ints(low, max(min(max(d * 2, d + 2, 3), 8), d))
    if kind == "width":
        return _ints(max(1, d // 4), max(d * 4, 4), log=True)
    if kind == "count":
        return _ints(max(1, d // 2), max(d * 10, 100), log=True)
    if kind == "depth":
        return _ints(1, max(d * 4, 16))
    if d < 0:
        return None
    return _ints(0, 4) if d == 0 else _ints(max(1, d // 2), max(d * 2, d + 2))


def _ints(low: int, high: int, log: bool = False) -> Spec:
    return _spec("int", low=low, high=max(high, low + 1), log=log)


def _float_space(kind: str | None, d: float) -> Spec | None:
    if kind == "lr":
        d = d if d > 0 else 1e-3
        low, high = max(min(d / 10, _LR_USUAL[0]), 1e-5), min(max(d * 10, _LR_USUAL[1]), 1.0)
        if low >= high:
            low, high = 1e-5, 1.0
        return _spec("float", low, high, log=True)
    if kind == "dropout":
        return _spec("float", 0.0, max(0.5, min(d * 2, 0.9)))
    if kind == "momentum":
        return _spec("float", 0.0, 0.99)
    if kind == "fraction":
        return _spec("float", 0.5, 1.0)
    if kind == "reg":
        return _spec("float", d / 100, d * 100, log=True) if d > 0 else None
    if d < 0 or math.isnan(d):
        return None
    return _spec("float", 0.0, 1.0) if d == 0 else _spec("float", d / 4, d * 4, log=True)


def _keras_knobs(detection: Detection, kinds: set[str | None]) -> dict[str, Spec]:
    """The agent's Keras knobs; fit/optimizer knobs only where the script has no own param."""
    defaults = detection.keras_defaults
    knobs: dict[str, Spec] = {}
    for knob, kind in (("keras.epochs", "epochs"), ("keras.batch_size", "batch")):
        if kind == "batch" and not defaults.get("array_input", True):
            continue  # fit gets a generator or dataset: it brings its own batches
        if kind not in kinds:
            spec = _int_space(kind, int(defaults.get(knob[6:], _BASELINES[kind])), knob)
            if spec:
                knobs[knob] = spec
    if "lr" not in kinds:
        lr_spec = _float_space("lr", float(defaults.get("learning_rate", _BASELINES["lr"])))
        if lr_spec:
            knobs["keras.learning_rate"] = lr_spec
    if detection.keras_sequential:
        knobs["keras.width"] = _spec("float", 0.5, 2.0, log=True)
        if detection.model_family == "cnn":
            knobs["keras.extra_conv_blocks"] = _ints(0, 2)
        knobs["keras.dropout"] = _spec("float", 0.0, 0.5)
    assert set(knobs) <= set(KERAS_KNOBS), set(knobs) - set(KERAS_KNOBS)
    return knobs


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
    if ptype in ("int", "float"):
        kind = kind_of(name)
        fallback = 1 if ptype == "int" else 0.1
        value: float = 1.0 if name.lower() == "c" else _BASELINES.get(kind or "", fallback)
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
    if spec.type == "bool":
        return _spec("bool", choices=[False, True])
    if spec.type == "categorical":
        return _spec("categorical", choices=list(spec.choices))
    numeric = int if spec.type == "int" else float
    out = _spec(spec.type, numeric(spec.low), numeric(spec.high), log=spec.log)
    if spec.step is not None:
        out["step"] = numeric(spec.step)
    return out
