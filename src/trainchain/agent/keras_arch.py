"""Architecture knobs for a Sequential model the script built: width, extra conv blocks, dropout,
input augmentation and batch normalisation.

Applied once per model, when it is compiled (or at ``fit`` if it was compiled unbuilt), by
rebuilding the layer stack from the layers' configs: the script's own code is untouched and
the new weights are fresh (nothing was trained yet). The ``architecture`` event records the
knobs and the layer and parameter counts before and after, plus notes on what was not possible;
it also carries the optimizer swap of ``keras_optimizer`` (done at compile, on any model).

- ``keras.augment`` (none|flip|flip_rotate|flip_rotate_zoom): RandomFlip("horizontal"),
  RandomRotation(0.1), RandomZoom(0.1) in front of the first layer, for image inputs (rank 4,
  channels last) of at least 32x32 pixels only. Keras runs them in training and skips them at
  inference, so the saved model predicts on the images as they are.
- ``keras.batchnorm`` (bool): a BatchNormalization after every Conv layer (also the extra
  blocks) that is not already followed by one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from trainchain.agent import events
from trainchain.agent.state import TrialState

logger = logging.getLogger(__name__)

ARCH_KNOBS = (
    "keras.width",
    "keras.extra_conv_blocks",
    "keras.dropout",
    "keras.augment",
    "keras.batchnorm",
)
# what each keras.augment choice puts in front: (layer class, positional argument)
AUGMENTS: dict[str, tuple[tuple[str, Any], ...]] = {
    "none": (),
    "flip": (("RandomFlip", "horizontal"),),
    "flip_rotate": (("RandomFlip", "horizontal"), ("RandomRotation", 0.1)),
    "flip_rotate_zoom": (
        ("RandomFlip", "horizontal"),
        ("RandomRotation", 0.1),
        ("RandomZoom", 0.1),
    ),
}
# photo-like inputs only: on thumbnails such as 8x8 digits the flips and turns change the label
MIN_AUGMENT_SIDE = 32
_DONE = "_trainchain_arch_done"
OPTIMIZER_NOTE = "_trainchain_optimizer_note"  # set by keras_optimizer at compile


def wanted(state: TrialState) -> dict[str, Any]:
    return {k: state.params[k] for k in ARCH_KNOBS if k in state.params}


def loading_saved_model() -> bool:
    """Is this ``compile`` part of Keras' ``load_model``? A loaded model is left as saved."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name in ("load_model", "compile_from_config") and "keras" in code.co_filename:
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def leave_alone(model: Any) -> None:
    setattr(model, _DONE, True)


def _is_noop(knobs: dict[str, Any]) -> bool:
    """Knobs that leave the layers as written (the baseline's values)."""
    defaults = {
        "keras.width": 1.0,
        "keras.extra_conv_blocks": 0,
        "keras.dropout": 0.0,
        "keras.augment": "none",
        "keras.batchnorm": False,
    }
    return all(knobs[k] == defaults[k] for k in knobs)


def apply_once(model: Any, keras: Any, state: TrialState) -> None:
    """Apply the knobs to a built model, once; a no-op without knobs or before the build."""
    knobs = wanted(state)
    swapped = getattr(model, OPTIMIZER_NOTE, None)
    if (not knobs and not swapped) or getattr(model, _DONE, False):
        return
    if not getattr(model, "built", False):
        return
    setattr(model, _DONE, True)
    before = _summary(model)
    notes: list[str] = [swapped] if swapped else []
    if swapped and "keras.optimizer" in state.params:
        knobs = {**knobs, "keras.optimizer": state.params["keras.optimizer"]}
    if not wanted(state) or _is_noop(wanted(state)):
        for name, value in wanted(state).items():
            state.mark_applied(name, value, "keras")
        _report(knobs, before, before, notes, applied=True)
        return
    if not isinstance(model, keras.Sequential):
        notes.append(
            f"architecture knobs apply to Sequential models; {type(model).__name__} "
            "was left unchanged"
        )
        _report(knobs, before, before, notes, applied=False)
        return
    old = list(model.layers)
    batch_shape = _input_shape(model)
    try:
        new = plan_layers(old, batch_shape, knobs, keras, notes)
    except Exception as exc:  # noqa: BLE001 - the model is untouched: train it as written
        notes.append(f"architecture knobs not applied: {type(exc).__name__}: {exc}")
        logger.warning("%s", notes[-1])
        _report(knobs, before, before, notes, applied=False)
        return
    for _ in old:
        _pop(model)
    for layer in new:
        _add(model, layer)
    if not model.built:
        model.build(batch_shape)
    after = _summary(model)
    for name, value in knobs.items():
        if not any(name in n and ("not applied" in n or "changed nothing" in n) for n in notes):
            state.mark_applied(name, value, "keras")  # a knob with such a note did not apply
    _report(knobs, before, after, notes, applied=True)


def plan_layers(
    old: list[Any],
    batch_shape: tuple[Any, ...],
    knobs: dict[str, Any],
    keras: Any,
    notes: list[str],
) -> list[Any]:
    """The new layer stack. When widths or shapes change (``keras.width``, extra conv blocks),
    every layer is new and unbuilt, made from its config; the other knobs only insert
    shape-preserving layers, so the script's layer objects (and any weights they hold, e.g. a
    pretrained base) stay."""
    out_idx = max((i for i, layer in enumerate(old) if _size_key(layer)), default=-1)
    width = float(knobs.get("keras.width", 1.0))
    blocks = int(knobs.get("keras.extra_conv_blocks", 0) or 0)
    new = list(old)
    if width != 1.0 or blocks > 0:
        new = []
        for i, layer in enumerate(old):
            config = layer.get_config()
            key = _size_key(layer)
            if key and i != out_idx and width != 1.0:
                config[key] = max(1, int(round(config[key] * width)))
            new.append(type(layer).from_config(config))
    if blocks > 0:
        _add_conv_blocks(new, batch_shape, blocks, keras, notes)
    rate = float(knobs.get("keras.dropout", 0.0) or 0.0)
    if rate > 0.0:
        out_new = max((i for i, layer in enumerate(new) if _size_key(layer)), default=-1)
        if out_new < 0:
            notes.append("no Dense/Conv output layer found: keras.dropout not applied")
        else:
            new.insert(out_new, keras.layers.Dropout(rate))
    if knobs.get("keras.batchnorm"):
        new = _with_batchnorm(new, keras, notes)
    augment = str(knobs.get("keras.augment") or "none")
    if augment != "none":
        new = _augmentation(augment, batch_shape, new, keras, notes) + new
    return new


def _with_batchnorm(layers: list[Any], keras: Any, notes: list[str]) -> list[Any]:
    out: list[Any] = []
    added = 0
    for i, layer in enumerate(layers):
        out.append(layer)
        nxt = type(layers[i + 1]).__name__ if i + 1 < len(layers) else ""
        if _is_conv(layer) and "BatchNormalization" not in nxt:
            first = layer.get_config().get("data_format") == "channels_first"
            out.append(keras.layers.BatchNormalization(axis=1 if first else -1))
            added += 1
    if not added:
        notes.append(
            "no Conv layer without a BatchNormalization after it: keras.batchnorm changed nothing"
        )
    return out


def _augmentation(
    choice: str, batch_shape: tuple[Any, ...], layers: list[Any], keras: Any, notes: list[str]
) -> list[Any]:
    """The augmentation layers for ``choice``, or none (with a note) when they cannot apply."""
    if choice not in AUGMENTS:
        notes.append(f"keras.augment={choice!r} is not one of {sorted(AUGMENTS)}: not applied")
        return []
    if len(batch_shape) != 4:
        notes.append(
            f"keras.augment applies to image inputs (batch, height, width, channels); the "
            f"input has shape {batch_shape}: not applied"
        )
        return []
    formats = {c.get_config().get("data_format") for c in layers if _is_conv(c)}
    if "channels_first" in formats:
        notes.append("keras.augment: the model reads channels-first images: not applied")
        return []
    side = min((d for d in batch_shape[1:3] if isinstance(d, int)), default=MIN_AUGMENT_SIDE)
    if side < MIN_AUGMENT_SIDE:
        notes.append(
            f"keras.augment: images of {batch_shape[1]}x{batch_shape[2]} pixels are below "
            f"{MIN_AUGMENT_SIDE}x{MIN_AUGMENT_SIDE}: a flip, a 36-degree turn or a zoom of so "
            "few pixels changes what they show (a digit, a glyph): not applied"
        )
        return []
    return [getattr(keras.layers, name)(arg) for name, arg in AUGMENTS[choice]]


def _is_conv(layer: Any) -> bool:
    name = type(layer).__name__
    return "Conv" in name and "Transpose" not in name and _size_key(layer) == "filters"


def _add_conv_blocks(
    layers: list[Any], batch_shape: tuple[Any, ...], blocks: int, keras: Any, notes: list[str]
) -> None:
    flat = next((i for i, lay in enumerate(layers) if type(lay).__name__ == "Flatten"), None)
    if flat is None:
        notes.append("no Flatten layer: keras.extra_conv_blocks not applied")
        return
    shape = batch_shape
    for layer in layers[:flat]:
        shape = _shape(layer.compute_output_shape(shape))
    convs = [c for c in layers[:flat] if "Conv" in type(c).__name__ and _size_key(c)]
    last = convs[-1].get_config() if convs else {}
    rank = len(shape) - 2
    if rank not in (1, 2, 3):
        notes.append(f"input of Flatten has shape {shape}: keras.extra_conv_blocks not applied")
        return
    data_format = last.get("data_format") or "channels_last"
    spatial = slice(1, -1) if data_format == "channels_last" else slice(2, None)
    added = 0
    for _ in range(blocks):
        conv = getattr(keras.layers, f"Conv{rank}D")(
            filters=last.get("filters", 32),
            kernel_size=3,
            padding=last.get("padding", "valid"),
            activation="relu",
            data_format=data_format,
        )
        pool = getattr(keras.layers, f"MaxPooling{rank}D")(pool_size=2, data_format=data_format)
        try:
            conv_shape = _shape(conv.compute_output_shape(shape))
        except ValueError:  # Keras 3 refuses an output size of zero or less
            conv_shape = tuple(0 for _ in shape)
        if any(d is not None and d < 2 for d in conv_shape[spatial]):
            notes.append(
                f"added {added} of {blocks} extra conv blocks: the spatial size "
                f"{tuple(shape[spatial])} before Flatten is too small for another"
            )
            logger.warning("keras.extra_conv_blocks: %s", notes[-1])
            break
        shape = _shape(pool.compute_output_shape(conv_shape))
        layers[flat:flat] = [conv, pool]
        flat += 2
        added += 1


def _size_key(layer: Any) -> str | None:
    name = type(layer).__name__
    if "Dense" in name and hasattr(layer, "units"):
        return "units"
    if "Conv" in name and hasattr(layer, "filters") and getattr(layer, "filters", None):
        return "filters"
    return None


def _shape(shape: Any) -> tuple[Any, ...]:
    as_list = getattr(shape, "as_list", None)
    return tuple(as_list() if as_list else shape)


def _input_shape(model: Any) -> tuple[Any, ...]:
    return _shape(model.inputs[0].shape)


def input_shape(model: Any) -> list[int | None] | None:
    """The built model's input shape (batch first) as JSON, or None when it has no one input."""
    try:
        return [int(d) if isinstance(d, int) else None for d in _input_shape(model)]
    except Exception:  # noqa: BLE001 - a subclassed or multi-input model
        return None


def _pop(model: Any) -> None:
    try:
        model.pop(rebuild=False)  # Keras 3: rebuild once at the end
    except TypeError:
        model.pop()  # Keras 2


def _add(model: Any, layer: Any) -> None:
    try:
        model.add(layer, rebuild=False)
    except TypeError:
        model.add(layer)


def _summary(model: Any) -> dict[str, Any]:
    try:
        params: int | None = int(model.count_params())
    except ValueError:  # not built
        params = None
    return {"layers": len(model.layers), "params": params}


def _report(
    knobs: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    notes: list[str],
    applied: bool,
) -> None:
    events.emit(
        "architecture", knobs=knobs, before=before, after=after, notes=notes, applied=applied
    )
