"""Hooks on ``keras.Model``: fit, evaluate and compile, installed when the script imports Keras.

Works on the class the script's ``keras`` (or ``tf_keras``) module exports, which is the same
class behind ``tensorflow.keras`` and ``from tensorflow import keras``, for Keras 3 and 2.
- ``compile``: ``keras.learning_rate`` on the optimizer (also one given as a string), the
  optimizer choice (``keras_optimizer``) and the architecture knobs (``keras_arch``); the
  ``optimizer`` event says which optimizer the model compiled with;
- ``fit``: ``keras.epochs``/``keras.batch_size``, the ``data`` and ``input`` (the model's input
  shape) events and steps clamped to one pass (``data_sizes``), per-epoch events,
  ``BackupAndRestore`` on the checkpoint directory, the best epoch kept and early stop
  (``best_epoch``), the ``classes`` event (chance level), the model saved to the output
  directory afterwards (also when the trial is stopped mid-fit: its best epoch's weights);
- ``evaluate``: its results as ``metric`` events (source ``keras_evaluate``).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from trainchain.agent import (
    best_epoch,
    data_sizes,
    events,
    keras_arch,
    keras_optimizer,
    keras_resume,
    signals,
    state,
)

logger = logging.getLogger(__name__)

_counters = {"fit_calls": 0, "fit_depth": 0}


def patch(keras: ModuleType) -> None:
    """Called right after ``keras``/``tf_keras`` is imported."""
    model_cls = getattr(keras, "Model", None)
    if model_cls is None or getattr(model_cls.fit, "_trainchain", False):
        return
    _patch(model_cls, "fit", functools.partial(_fit, keras=keras))
    _patch(model_cls, "evaluate", _evaluate)
    _patch(model_cls, "compile", functools.partial(_compile, keras=keras))
    logger.debug("hooked %s.Model (Keras %s)", keras.__name__, major_version(keras))


def _patch(cls: type, name: str, hook: Callable[..., Any]) -> None:
    original = getattr(cls, name)
    names = [p for p in inspect.signature(original).parameters if p != "self"]

    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(zip(names, args, strict=False))  # positional -> named, once
        return hook(original, self, kwargs)

    method._trainchain = True  # type: ignore[attr-defined]
    setattr(cls, name, method)


def major_version(keras: ModuleType) -> int:
    version = getattr(keras, "__version__", "") or ""
    try:
        return int(version.split(".")[0])
    except ValueError:
        return 3


def _compile(original: Callable[..., Any], model: Any, kwargs: dict[str, Any], keras: Any) -> Any:
    st = state.get()
    if st.has("keras.learning_rate"):
        lr = float(st.param("keras.learning_rate"))
        kwargs["optimizer"] = _with_learning_rate(kwargs.get("optimizer", "rmsprop"), lr, keras)
        st.mark_applied("keras.learning_rate", lr, "keras")
    if keras_arch.loading_saved_model():
        keras_arch.leave_alone(model)  # load_model compiles what it loaded: keep it as saved
        return original(model, **kwargs)
    if st.has(keras_optimizer.KNOB):
        optimizer = kwargs.get("optimizer", "rmsprop")
        kwargs["optimizer"] = keras_optimizer.swap(model, optimizer, keras, st)
    keras_arch.apply_once(model, keras, st)
    compiled = original(model, **kwargs)
    keras_optimizer.report(model)
    return compiled


def _with_learning_rate(optimizer: Any, lr: float, keras: Any) -> Any:
    if isinstance(optimizer, str | dict):
        optimizer = keras.optimizers.get(optimizer)
    try:
        optimizer.learning_rate = lr
        return optimizer
    except (TypeError, ValueError, AttributeError):  # a schedule: replace it by the constant
        config = {**optimizer.get_config(), "learning_rate": lr}
        return type(optimizer).from_config(config)


def _fit(original: Callable[..., Any], model: Any, kwargs: dict[str, Any], keras: Any) -> Any:
    st = state.get()
    if _counters["fit_depth"]:  # fit_generator -> fit in Keras 2: hook the outer call only
        return original(model, **kwargs)
    _counters["fit_calls"] += 1
    call = _counters["fit_calls"]
    _apply_fit_params(kwargs, st)
    train, val = data_sizes.fit_sizes(kwargs)
    data_sizes.emit_data(call, train, val)
    data_sizes.clamp_steps(kwargs, train, val)
    built = keras_resume.ensure_built(model, kwargs)
    if built:  # the input's shape: which knobs can apply (``keras.augment`` needs images)
        events.emit("input", call=call, shape=keras_arch.input_shape(model))
    keras_arch.apply_once(model, keras, st)
    ckpt_dir = os.path.join(st.checkpoint_dir, f"keras-fit-{call}")
    epochs = int(kwargs.get("epochs", 1))
    done = keras_resume.load_completed(model, ckpt_dir, epochs, keras)
    if done is not None:
        events.emit(
            "fit",
            call=call,
            epochs=epochs,
            batch_size=kwargs.get("batch_size"),
            initial_epoch=epochs,
            skipped=True,
            restored_from=ckpt_dir,
        )
        st.trainings_done += 1
        save_model(model, keras, st)
        return done
    if built and not kwargs.get("initial_epoch"):
        extended = keras_resume.load_to_extend(model, ckpt_dir, epochs)
        if extended is not None:
            kwargs["initial_epoch"] = extended
            logger.info("fit #%d continues after epoch %d of an earlier trial", call, extended)
    callbacks = _as_list(kwargs.get("callbacks"))
    if built:
        callbacks.insert(0, keras_resume.backup_callback(keras, ckpt_dir))
    else:
        logger.warning(
            "fit #%d: the model could not be built from its input before training, "
            "so it trains without BackupAndRestore checkpoints",
            call,
        )
    callbacks.append(_epoch_logger(keras)(call, epochs, kwargs.get("batch_size")))
    # after the epoch logger: the epoch event comes before the ``best`` it causes
    keeper = best_epoch.callback(keras, ckpt_dir, epochs)
    callbacks.append(keeper)
    balance = best_epoch.class_balance(kwargs, model)
    if balance is not None:
        events.emit("classes", call=call, **balance)
    kwargs["callbacks"] = callbacks
    _counters["fit_depth"] += 1
    st.keras_busy += 1
    with st.training():
        try:
            history = original(model, **kwargs)
        except signals.Terminated:  # stopped mid-fit: the best epoch so far is the model
            with signals.keeping():
                if keeper.keep_best_on_stop():
                    save_model(model, keras, st)
            raise
        finally:
            _counters["fit_depth"] -= 1
            st.keras_busy -= 1
        keras_resume.mark_completed(model, ckpt_dir, epochs, history)
        save_model(model, keras, st)
    return history


def _apply_fit_params(kwargs: dict[str, Any], st: state.TrialState) -> None:
    if st.has("keras.epochs"):
        kwargs["epochs"] = int(st.param("keras.epochs"))
        st.mark_applied("keras.epochs", kwargs["epochs"], "keras")
    if st.has("keras.batch_size"):
        size = int(st.param("keras.batch_size"))
        if keras_resume.set_batch_size(kwargs, size):
            st.mark_applied("keras.batch_size", size, "keras")


def _as_list(callbacks: Any) -> list[Any]:
    if callbacks is None:
        return []
    if isinstance(callbacks, list | tuple):
        return list(callbacks)
    return list(getattr(callbacks, "callbacks", [callbacks]))  # a CallbackList


def _evaluate(original: Callable[..., Any], model: Any, kwargs: dict[str, Any]) -> Any:
    st = state.get()
    if _counters["fit_depth"]:  # validation inside fit: the epoch logger reports it
        return original(model, **kwargs)
    want_dict = bool(kwargs.get("return_dict", False))
    kwargs["return_dict"] = True
    st.keras_busy += 1
    try:
        logs = original(model, **kwargs)
    finally:
        st.keras_busy -= 1
    for name, value in _floats(logs).items():
        events.emit("metric", name=name, value=value, source="keras_evaluate")
    return logs if want_dict else _flatten(model, logs)


def _flatten(model: Any, logs: dict[str, Any]) -> Any:
    """What ``evaluate`` would have returned without ``return_dict``."""
    flatten = getattr(model, "_flatten_metrics_in_order", None)  # Keras 3
    if flatten is not None:
        return flatten(logs)
    names = [n for n in getattr(model, "metrics_names", []) if n in logs]
    names += [n for n in logs if n not in names]
    results = [logs[n] for n in names]
    return results[0] if len(results) == 1 else results


def _floats(logs: Any) -> dict[str, float]:
    out = {}
    for name, value in dict(logs or {}).items():
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            continue  # non-scalar logs (e.g. a confusion matrix) are not metrics
    return out


def save_model(model: Any, keras: Any, st: state.TrialState) -> None:
    suffix = ".keras" if major_version(keras) >= 3 else ".h5"
    path = os.path.join(st.output_dir, "model" + suffix)
    try:
        os.makedirs(st.output_dir, exist_ok=True)
        model.save(path)
    except Exception as exc:  # noqa: BLE001 - e.g. an unserializable subclassed model
        logger.warning(
            "could not save the model to %s (%s: %s); call "
            "trainchain.agent.log_model(path) after saving it yourself",
            path,
            type(exc).__name__,
            exc,
        )
        return
    events.emit("model", path=path, framework="keras")


_logger_classes: dict[str, type] = {}


def _epoch_logger(keras: Any) -> type:
    """A Callback subclass of this Keras: ``fit`` and ``epoch`` events, numbered from 1."""
    base = keras.callbacks.Callback
    key = f"{base.__module__}.{base.__qualname__}"
    if key in _logger_classes:
        return _logger_classes[key]

    class TrainchainEpochLogger(base):  # type: ignore[misc, valid-type]
        def __init__(self, call: int, epochs: int, batch_size: Any) -> None:
            super().__init__()
            self._fit = {"call": call, "epochs": epochs, "batch_size": batch_size}
            self._announced = False

        def _announce(self, initial_epoch: int) -> None:
            if not self._announced:
                self._announced = True
                events.emit("fit", initial_epoch=initial_epoch, skipped=False, **self._fit)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._announce(epoch)  # after BackupAndRestore: the epoch really started

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            events.emit("epoch", epoch=epoch + 1, metrics=_floats(logs))

        def on_train_end(self, logs: Any = None) -> None:
            self._announce(self._fit["epochs"])  # nothing left to train after a restore

    _logger_classes[key] = TrainchainEpochLogger
    return TrainchainEpochLogger
