"""``keras.optimizer``: compile with another optimizer (adam|sgd|rmsprop), the rate carried over.

Applied in the ``compile`` hook after ``keras.learning_rate``, so the rate the trial asked for
(or the script's own, or the schedule it wrote) carries over; gradient clipping carries over
too. ``sgd`` means SGD with momentum 0.9. A constant rate moves between the adaptive family
(Adam, RMSprop, ...) and SGD by the ratio of Keras' own defaults (SGD 0.01, Adam 0.001), so a
rate that trains one trains the other: SGD at an Adam-sized rate barely moves in the epochs a
trial has (the digits CNN after 5 epochs at 2e-4: Adam 0.81, SGD 0.19, SGD at 2e-3 0.68). The
swap is noted on the model for the ``architecture`` event (``keras_arch``). Standard library
only at module level: ``keras`` is the script's module, passed in.
"""

from __future__ import annotations

import logging
from typing import Any

from trainchain.agent import events
from trainchain.agent.keras_arch import OPTIMIZER_NOTE
from trainchain.agent.state import TrialState

logger = logging.getLogger(__name__)

KNOB = "keras.optimizer"
CHOICES = ("adam", "sgd", "rmsprop")
SGD_MOMENTUM = 0.9
SGD_RATE_RATIO = 10.0  # Keras' default rates: SGD's 0.01 over Adam's and RMSprop's 0.001
_CARRIED = ("clipnorm", "clipvalue", "global_clipnorm")


def swap(model: Any, optimizer: Any, keras: Any, state: TrialState) -> Any:
    """The optimizer to compile with: ``optimizer`` itself without the knob or when it is
    already of the chosen kind, else a new one of that kind with its learning rate."""
    if not state.has(KNOB):
        return optimizer
    choice = str(state.param(KNOB)).lower()
    if isinstance(optimizer, str | dict):
        optimizer = keras.optimizers.get(optimizer)
    try:
        wanted_cls = _optimizer_class(choice, optimizer, keras)
    except ValueError as exc:
        note = f"keras.optimizer={choice!r} not applied: {exc}"
        logger.warning("%s", note)
        setattr(model, OPTIMIZER_NOTE, note)
        return optimizer
    old = type(optimizer).__name__
    if isinstance(optimizer, wanted_cls):
        state.mark_applied(KNOB, choice, "keras")
        setattr(model, OPTIMIZER_NOTE, f"optimizer: the script's {old} kept (already {choice})")
        return optimizer
    config = optimizer.get_config()
    kept = _learning_rate(config, keras)
    rate = _carried_rate(kept, old, choice)
    kwargs: dict[str, Any] = {"learning_rate": rate}
    if choice == "sgd":
        kwargs["momentum"] = SGD_MOMENTUM
    carried = {k: config[k] for k in _CARRIED if config.get(k) is not None}
    try:
        new = wanted_cls(**kwargs, **carried)
    except TypeError:  # a legacy optimizer without global_clipnorm
        new = wanted_cls(**kwargs)
    if rate is kept:  # _carried_rate returns the very object when it keeps the rate
        how = f"learning rate {rate if isinstance(rate, float) else type(rate).__name__} kept"
    else:
        how = f"learning rate {kept} -> {rate} (Keras' default rates: SGD 0.01, Adam 0.001)"
    setattr(
        model,
        OPTIMIZER_NOTE,
        f"optimizer: {old} -> {type(new).__name__}"
        + (f" (momentum {SGD_MOMENTUM})" if choice == "sgd" else "")
        + f", {how}",
    )
    state.mark_applied(KNOB, choice, "keras")
    return new


def report(model: Any) -> None:
    """The ``optimizer`` event: the compiled model's optimizer (``name`` as a ``keras.optimizer``
    choice would name it) and its constant learning rate (None for a schedule), so the
    baseline's point in the search space is known (``trainchain.tuning.written``)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return
    try:
        rate: Any = _learning_rate(optimizer.get_config(), None)
    except Exception:  # noqa: BLE001 - a schedule (deserialised above) or an odd optimizer
        rate = None
    events.emit(
        "optimizer",
        name=type(optimizer).__name__.lower(),
        learning_rate=rate if isinstance(rate, float) else None,
    )


def _optimizer_class(choice: str, current: Any, keras: Any) -> type:
    if choice not in CHOICES:
        raise ValueError(f"choose one of {', '.join(CHOICES)}")
    # a Keras 2 legacy optimizer (keras.optimizers.legacy.Adam) gets a legacy one
    legacy = "legacy" in type(current).__module__ and hasattr(keras.optimizers, "legacy")
    namespace = keras.optimizers.legacy if legacy else keras.optimizers
    name = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}[choice]
    cls = getattr(namespace, name, None)
    if not isinstance(cls, type):
        raise ValueError(f"this Keras has no optimizers.{name}")
    return cls


def _carried_rate(rate: Any, old: str, choice: str) -> Any:
    """A constant rate in the new optimizer's scale (a schedule is kept as written)."""
    if not isinstance(rate, float) or (old.lower() == "sgd") == (choice == "sgd"):
        return rate
    ratio = SGD_RATE_RATIO if choice == "sgd" else 1 / SGD_RATE_RATIO
    return float(f"{rate * ratio:.7g}")


def _learning_rate(config: dict[str, Any], keras: Any) -> Any:
    rate = config.get("learning_rate", config.get("lr", 1e-3))
    if isinstance(rate, dict):  # a serialised schedule: the same schedule object again
        return keras.optimizers.schedules.deserialize(rate)
    return float(f"{float(rate):.7g}")  # Keras 3 reports the float32 value (0.0010000000474)
