"""Architecture knobs for a Sequential model the script built: width, extra conv blocks, dropout.

Applied once per model, when it is compiled (or at ``fit`` if it was compiled unbuilt), by
rebuilding the layer stack from the layers' configs: the script's own code is untouched and
the new weights are fresh (nothing was trained yet). The ``architecture`` event records the
knobs and the layer and parameter counts before and after, plus notes on what was not possible.
"""

from __future__ import annotations

import logging
from typing import Any

from trainchain.agent import events
from trainchain.agent.state import TrialState

logger = logging.getLogger(__name__)

ARCH_KNOBS = ("keras.width", "keras.extra_conv_blocks", "keras.dropout")
_DONE = "_trainchain_arch_done"


def wanted(state: TrialState) -> dict[str, Any]:
    return {k: state.params[k] for k in ARCH_KNOBS if k in state.params}


def apply_once(model: Any, keras: Any, state: TrialState) -> None:
    """Apply the knobs to a built model, once; a no-op without knobs or before the build."""
    knobs = wanted(state)
    if not knobs or getattr(model, _DONE, False) or not getattr(model, "built", False):
        return
    setattr(model, _DONE, True)
    before = _summary(model)
    notes: list[str] = []
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
        state.mark_applied(name, value, "keras")
    _report(knobs, before, after, notes, applied=True)


def plan_layers(
    old: list[Any],
    batch_shape: tuple[Any, ...],
    knobs: dict[str, Any],
    keras: Any,
    notes: list[str],
) -> list[Any]:
    """New, unbuilt layers: the old ones from their configs, scaled, with blocks and dropout."""
    out_idx = max((i for i, layer in enumerate(old) if _size_key(layer)), default=-1)
    width = float(knobs.get("keras.width", 1.0))
    new = []
    for i, layer in enumerate(old):
        config = layer.get_config()
        key = _size_key(layer)
        if key and i != out_idx and width != 1.0:
            config[key] = max(1, int(round(config[key] * width)))
        new.append(type(layer).from_config(config))
    blocks = int(knobs.get("keras.extra_conv_blocks", 0) or 0)
    if blocks > 0:
        _add_conv_blocks(new, batch_shape, blocks, keras, notes)
    rate = float(knobs.get("keras.dropout", 0.0) or 0.0)
    if rate > 0.0:
        out_new = max((i for i, layer in enumerate(new) if _size_key(layer)), default=-1)
        if out_new < 0:
            notes.append("no Dense/Conv output layer found: keras.dropout not applied")
        else:
            new.insert(out_new, keras.layers.Dropout(rate))
    return new


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
