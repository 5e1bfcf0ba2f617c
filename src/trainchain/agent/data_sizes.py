"""How big ``fit``'s inputs are, and steps that ask for more than one pass over them.

Standard library only at module level. At each Keras ``fit`` the agent emits a ``data`` event
(batches, samples and batch size of the training and validation inputs, null where unknown),
then clamps ``steps_per_epoch``/``validation_steps`` above one pass over a finite input to that
pass: Keras stops with "Your input ran out of data" otherwise, so training ends after the
first epoch (or later epochs have no ``val_*`` metrics). ``FULL_PASS_STEPS`` is what the
controller passes for "one full pass" when a steps-like parameter has no default.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from trainchain.agent import events

logger = logging.getLogger(__name__)

FULL_PASS_STEPS = 2147483647  # "one full pass, however long": clamped, or None when unknown
DEFAULT_BATCH = 32  # Keras' fit/evaluate default batch size


@dataclass(frozen=True)
class Size:
    batches: int | None = None
    samples: int | None = None
    batch_size: int | None = None
    finite: bool = False  # an input that ends (arrays, a Sequence, a DataLoader, tf.data)
    kind: str = ""


def size_of(data: Any, batch_size: Any = None, fraction: float = 1.0) -> Size:
    """The size of one fit/validation input (arrays are batched by ``batch_size``).

    ``fraction`` applies to arrays: the first ``fraction`` of the samples, or with a negative
    value the samples after the first ``-fraction`` (``validation_split``'s held-out tail).
    """
    if data is None:
        return Size()
    kind = type(data).__name__
    if hasattr(data, "cardinality") and hasattr(data, "element_spec"):  # tf.data
        return _dataset_size(data, kind)
    if _is_arrays(data):
        samples = _array_len(data)
        if samples is None:
            return Size(kind=kind)
        split_at = int(samples * abs(fraction))  # as Keras splits: the first part trains
        samples = split_at if fraction > 0 else samples - split_at
        size = _int(batch_size) or DEFAULT_BATCH
        return Size(math.ceil(samples / size), samples, size, finite=True, kind=kind)
    if hasattr(data, "__len__") and not isinstance(data, str | bytes):  # Sequence, DataLoader
        try:
            batches = len(data)
        except Exception:  # noqa: BLE001 - e.g. a PyDataset of unknown length
            return Size(kind=kind)
        samples = _first_int(data, ("samples", "n"))
        dataset = getattr(data, "dataset", None)  # torch DataLoader
        if samples is None and dataset is not None and hasattr(dataset, "__len__"):
            samples = _int(len(dataset))
        return Size(batches, samples, _first_int(data, ("batch_size",)), finite=True, kind=kind)
    return Size(kind=kind)  # a Python generator: no length


def _dataset_size(data: Any, kind: str) -> Size:
    try:
        cardinality = int(data.cardinality())
    except Exception:  # noqa: BLE001 - not eager, or an exotic dataset
        return Size(kind=kind)
    finite = cardinality >= 0
    if cardinality == -1:  # endless: one pass is what repeat() repeats, when that is known
        cardinality = _before_repeat(data)
    if cardinality < 0:  # unknown (filter()), or endless with no finite source
        return Size(kind=kind)
    batch = None
    try:
        spec = data.element_spec
        first = spec[0] if isinstance(spec, tuple | list) else spec
        if isinstance(first, dict):
            first = next(iter(first.values()))
        batch = _int(first.shape[0])
    except Exception:  # noqa: BLE001 - a spec without a static batch dimension
        batch = None
    return Size(cardinality, None, batch, finite=finite, kind=kind)


def _before_repeat(data: Any) -> int:
    """Batches in one pass of an endless ``ds.batch(n).repeat()`` (-1 when not that shape).

    Walks down the pipeline to the input of ``repeat()``; a batching step above it would make
    that count elements instead of batches, so it gives up then.
    """
    node = data
    for _ in range(64):  # a pipeline is a short chain: map -> prefetch -> repeat -> batch ...
        if _is_batching(node):
            return -1
        node = getattr(node, "_input_dataset", None)
        if node is None:
            return -1
        try:
            cardinality = int(node.cardinality())
        except Exception:  # noqa: BLE001 - an exotic node: give up
            return -1
        if cardinality >= 0:
            return cardinality
    return -1


def _is_batching(node: Any) -> bool:
    return "batch" in type(node).__name__.lower()


def _is_arrays(data: Any) -> bool:
    if hasattr(data, "shape"):  # NumPy, tensors, pandas: counted in samples, not batches
        return True
    if isinstance(data, dict):
        return bool(data) and all(_is_arrays(v) for v in data.values())
    if isinstance(data, list | tuple):
        return bool(data) and all(_is_arrays(v) for v in data)
    return False


def _array_len(data: Any) -> int | None:
    while isinstance(data, list | tuple | dict):
        data = next(iter(data.values())) if isinstance(data, dict) else data[0]
    try:
        return int(data.shape[0])
    except (TypeError, IndexError, AttributeError):
        return None


def _first_int(obj: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = _int(getattr(obj, name, None))
        if value is not None:
            return value
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number == value else None


def fit_sizes(kwargs: dict[str, Any]) -> tuple[Size, Size]:
    """The training and validation inputs of one ``fit`` call (``validation_split`` too)."""
    split = float(kwargs.get("validation_split") or 0.0)
    x, batch_size = kwargs.get("x"), kwargs.get("batch_size")
    train = size_of(x, batch_size, 1.0 - split if kwargs.get("validation_data") is None else 1.0)
    validation = kwargs.get("validation_data")
    val_batch = kwargs.get("validation_batch_size") or batch_size
    if isinstance(validation, tuple | list) and validation and _is_arrays(validation[0]):
        val = size_of(validation[0], val_batch)
    elif validation is not None:
        val = size_of(validation, val_batch)
    elif split > 0 and _is_arrays(x):
        val = size_of(x, val_batch, -(1.0 - split))  # negative: the part after the split
    else:
        val = Size()
    return train, val


def emit_data(call: int, train: Size, val: Size) -> None:
    events.emit(
        "data",
        call=call,
        train_batches=train.batches,
        val_batches=val.batches,
        train_samples=train.samples,
        val_samples=val.samples,
        batch_size=train.batch_size,
    )


def clamp_steps(kwargs: dict[str, Any], train: Size, val: Size) -> None:
    """At most one pass over a finite input; the FULL_PASS_STEPS sentinel always resolved."""
    for argument, size, role in (
        ("steps_per_epoch", train, "training"),
        ("validation_steps", val, "validation"),
    ):
        steps = _int(kwargs.get(argument))
        if steps is None:
            continue
        sentinel = steps >= FULL_PASS_STEPS
        if size.batches is not None and (size.finite or sentinel) and steps > size.batches:
            kwargs[argument] = size.batches
            _adjusted(argument, steps, size.batches, _why(argument, steps, size, role, sentinel))
        elif sentinel and size.batches is None:
            kwargs[argument] = None
            why = (
                f"{argument} asks for one full pass and the length of the {role} input "
                f"({size.kind or 'unknown'}) is not known: Keras runs until it is exhausted"
            )
            _adjusted(argument, steps, None, why)


def _why(argument: str, steps: int, size: Size, role: str, sentinel: bool) -> str:
    per = f" of {size.batch_size}" if size.batch_size else ""
    input_ = f"the {role} input ({size.kind}, {size.batches} batches{per})"
    if sentinel:
        return f"{argument} asks for one full pass: {size.batches} batches over {input_}"
    effect = (
        "training would stop after the first epoch"
        if argument == "steps_per_epoch"
        else "the epochs after the first would have no val_ metrics"
    )
    return (
        f"{argument}={steps} is more than one pass over {input_}: Keras runs out of data "
        f"('Your input ran out of data') and {effect}; clamped to one pass"
    )


def _adjusted(argument: str, before: int, after: int | None, why: str) -> None:
    shown = "one pass (full-pass request)" if before >= FULL_PASS_STEPS else before
    logger.warning("%s %s -> %s: %s", argument, shown, after, why)
    events.emit("adjusted", argument=argument, **{"from": before, "to": after}, why=why)
