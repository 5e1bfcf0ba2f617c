"""Resuming Keras training across restarts of the same trial, without changing the script.

Each ``fit`` call N of the process gets ``$TRAINCHAIN_CHECKPOINT_DIR/keras-fit-N``:
- while it trains, Keras' ``BackupAndRestore`` keeps the weights, optimizer state and epoch
  there, so a killed attempt resumes at the interrupted epoch (a corrupted backup falls back to
  the previous one, else to a clean start, and says so);
- when it finishes, ``completed.weights.h5`` + ``completed.json`` mark it done, so a restarted
  script that calls ``fit`` several times skips the calls that already finished.
``BackupAndRestore`` needs a built model, so an unbuilt one is built from its first batch.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from collections.abc import Iterator
from typing import Any

from trainchain.agent import contract, events
from trainchain.agent.data_sizes import FULL_PASS_STEPS

logger = logging.getLogger(__name__)


def ensure_built(model: Any, kwargs: dict[str, Any]) -> bool:
    """Build ``model`` by calling it on one sample of ``fit``'s input; False when impossible."""
    if getattr(model, "built", False):
        return True
    sample = _first_inputs(kwargs)
    if sample is None:
        return False
    try:
        model(sample)
    except Exception as exc:  # noqa: BLE001 - fall back to training without checkpoints
        logger.warning("could not build the model on a sample (%s: %s)", type(exc).__name__, exc)
        return False
    return bool(getattr(model, "built", False))


def _first_inputs(kwargs: dict[str, Any]) -> Any:
    x = kwargs.get("x")
    if x is None:
        return None
    if hasattr(x, "shape") and hasattr(x, "__getitem__"):  # numpy / tensor
        return x[:1]
    if isinstance(x, list | tuple) and x and all(hasattr(a, "shape") for a in x):
        return [a[:1] for a in x]
    if isinstance(x, dict):
        return {k: v[:1] for k, v in x.items()}
    if hasattr(x, "element_spec") and hasattr(x, "take"):  # tf.data.Dataset
        for element in x.take(1):
            return element[0] if isinstance(element, tuple) else element
        return None
    if hasattr(x, "__getitem__") and hasattr(x, "__len__"):  # keras Sequence / PyDataset
        batch = x[0]
        return batch[0] if isinstance(batch, tuple | list) else batch
    if hasattr(x, "__next__"):  # a generator: peek, then hand fit the whole stream back
        first = next(x)
        kwargs["x"] = _chain(first, x)
        return first[0] if isinstance(first, tuple | list) else first
    return None


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def set_batch_size(kwargs: dict[str, Any], size: int) -> bool:
    """Apply ``keras.batch_size`` to ``fit``'s input; False (with a warning) when impossible."""
    x: Any = kwargs.get("x")
    if hasattr(x, "element_spec") and hasattr(x, "unbatch"):  # tf.data: re-batch it
        old = _dataset_batch(x) if kwargs.get("steps_per_epoch") else None
        kwargs["x"] = x.unbatch().batch(size)
        _rescale_steps(kwargs, old, size)
        return True
    if x is not None and hasattr(x, "batch_size") and hasattr(x, "__getitem__"):
        old = x.batch_size
        x.batch_size = size  # Keras 2 image iterators read it per epoch
        _rescale_steps(kwargs, old, size)
        return True
    if not (hasattr(x, "shape") or isinstance(x, list | tuple | dict)):
        logger.warning(
            "keras.batch_size=%d not applied: fit's input %s is batched by the script",
            size,
            type(x).__name__,
        )
        return False
    _rescale_steps(kwargs, kwargs.get("batch_size") or 32, size)  # 32: fit's default
    kwargs["batch_size"] = size
    return True


def _rescale_steps(kwargs: dict[str, Any], old: Any, size: int) -> None:
    """Keep the samples per epoch: the script counted ``steps_per_epoch`` in its own batches.

    Without this, ``steps_per_epoch=len(generator)`` with a doubled batch size runs the
    generator dry in the first epoch and Keras silently stops training there.
    """
    steps = kwargs.get("steps_per_epoch")
    if not steps or not isinstance(old, int) or old <= 0 or old == size:
        return
    if int(steps) >= FULL_PASS_STEPS:
        return  # "one full pass" stays so; data_sizes resolves it with the new batch size
    kwargs["steps_per_epoch"] = max(1, math.ceil(int(steps) * old / size))
    logger.info(
        "keras.batch_size=%d: steps_per_epoch %s -> %d (same samples per epoch as batch size %d)",
        size, steps, kwargs["steps_per_epoch"], old,
    )  # fmt: skip


def _dataset_batch(dataset: Any) -> int | None:
    """The batch size of a batched ``tf.data.Dataset``, read from its first element."""
    try:
        for element in dataset.take(1):
            first = element[0] if isinstance(element, tuple | list) else element
            if isinstance(first, dict):
                first = next(iter(first.values()))
            return int(first.shape[0])
    except Exception:  # noqa: BLE001 - unknown: leave steps_per_epoch as the script set it
        return None
    return None


def _paths(ckpt_dir: str) -> tuple[str, str]:
    return (
        os.path.join(ckpt_dir, "completed.weights.h5"),
        os.path.join(ckpt_dir, "completed.json"),
    )


def load_completed(model: Any, ckpt_dir: str, epochs: int, keras: Any) -> Any:
    """The restored History of a fit call that already finished in an earlier attempt."""
    weights, meta_path = _paths(ckpt_dir)
    if not (os.path.exists(weights) and os.path.exists(meta_path)):
        return None
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
        if meta.get("epochs") != epochs:
            return None
        if meta.get("signature") and meta["signature"] != (
            model_signature(model) or meta["signature"]
        ):
            _start_afresh(model, ckpt_dir)
            return None
        optimizer = getattr(model, "optimizer", None)
        if (
            optimizer is not None
            and hasattr(optimizer, "build")
            and not getattr(optimizer, "built", True)
        ):
            optimizer.build(model.trainable_variables)
        model.load_weights(weights)
    except Exception as exc:  # noqa: BLE001 - a damaged marker: train this fit again
        logger.warning(
            "finished fit in %s cannot be restored (%s: %s); training it again",
            ckpt_dir,
            type(exc).__name__,
            exc,
        )
        return None
    history = keras.callbacks.History()
    history.set_model(model)
    history.history = meta.get("history", {})
    history.epoch = meta.get("epoch", [])
    history.params = meta.get("params", {})
    # The attempt that trained this fit may have been lost before its epochs were reported.
    events.emit("recovered", attempt=meta.get("attempt"), epochs=recovered_epochs(history))
    return history


def load_to_extend(model: Any, ckpt_dir: str, epochs: int) -> int | None:
    """The epochs already trained when this fit continues a finished one with more epochs
    (the controller copied a trial's checkpoint to train it longer): its weights are loaded
    and training goes on from there. None when there is nothing to continue."""
    weights, meta_path = _paths(ckpt_dir)
    if not (os.path.exists(weights) and os.path.exists(meta_path)):
        return None
    if any(os.path.exists(os.path.join(ckpt_dir, name)) for name in BACKUP_FILES[1:]):
        return None  # an attempt of the longer fit was killed: BackupAndRestore resumes it
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
        done = int(meta.get("epochs") or 0)
        if not 0 < done < epochs or meta.get("signature") != model_signature(model):
            return None
        model.load_weights(weights)
    except Exception as exc:  # noqa: BLE001 - train this fit from its first epoch
        logger.warning("cannot continue the fit in %s (%s: %s)", ckpt_dir, type(exc).__name__, exc)
        return None
    _remove_backup(ckpt_dir)  # a backup of the finished fit must not restore over these weights
    return done


def mark_completed(model: Any, ckpt_dir: str, epochs: int, history: Any) -> None:
    weights, meta_path = _paths(ckpt_dir)
    try:
        os.makedirs(ckpt_dir, exist_ok=True)
        tmp = os.path.join(ckpt_dir, "completed.tmp.weights.h5")
        model.save_weights(tmp)
        os.replace(tmp, weights)
        meta = {
            "epochs": epochs,
            "history": _jsonable(getattr(history, "history", {})),
            "epoch": list(getattr(history, "epoch", [])),
            "params": _jsonable(getattr(history, "params", {}) or {}),
            "signature": model_signature(model),
            "attempt": _attempt_number(),
        }
        with open(meta_path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(meta, fh)
        os.replace(meta_path + ".tmp", meta_path)
        _remove_backup(ckpt_dir)  # only now: a kill before this line resumes from the backup
    except Exception as exc:  # noqa: BLE001 - training succeeded; only resume is weaker
        logger.warning(
            "could not record the finished fit in %s (%s: %s)", ckpt_dir, type(exc).__name__, exc
        )


def _attempt_number() -> int | None:
    try:
        return int(os.environ.get(contract.ATTEMPT, ""))
    except ValueError:
        return None


def recovered_epochs(history: Any) -> list[dict[str, Any]]:
    """The epochs of a finished fit, from its ``completed.json`` history: an attempt lost after
    training may never have reported them (its node's events went with it)."""
    logs = getattr(history, "history", {}) or {}
    epochs = []
    for i, epoch in enumerate(getattr(history, "epoch", []) or []):
        metrics = {k: v[i] for k, v in logs.items() if isinstance(v, list) and i < len(v)}
        epochs.append({"epoch": int(epoch) + 1, "metrics": metrics})
    return epochs


SIGNATURE_FILE = "model_signature.json"  # the weight shapes the backup was saved from
BACKUP_FILES = (
    SIGNATURE_FILE,
    "latest.weights.h5",
    "latest.weights.h5.bkp",
    "training_metadata.json",
    "training_metadata.json.bkp",
)


def _remove_backup(ckpt_dir: str) -> None:
    """The ``BackupAndRestore`` files of a fit that is now marked completed."""
    for name in BACKUP_FILES:
        try:
            os.remove(os.path.join(ckpt_dir, name))
        except FileNotFoundError:
            pass


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "tolist", lambda: str(v))()))


_backup_classes: dict[str, type] = {}


def backup_callback(keras: Any, backup_dir: str) -> Any:
    """A ``BackupAndRestore`` on ``backup_dir`` that emits events and survives a bad backup."""
    base = keras.callbacks.BackupAndRestore
    key = f"{base.__module__}.{base.__qualname__}"
    if key not in _backup_classes:
        _backup_classes[key] = _make_backup_class(base)
    import inspect

    # The backup is kept at the end of fit and removed by ``mark_completed`` once the
    # finished-fit marker is written: deleting it first left a window where a kill lost the
    # whole fit (every epoch trained again).
    options: dict[str, Any] = {"save_freq": "epoch", "delete_checkpoint": False}
    if "double_checkpoint" in inspect.signature(base.__init__).parameters:
        options["double_checkpoint"] = True  # keep the previous backup for a torn write
    return _backup_classes[key](backup_dir, **options)


def model_signature(model: Any) -> list[list[int | None]]:
    """The shapes of the model's weights, in order: what a checkpoint must match to load."""
    shapes = []
    for weight in getattr(model, "weights", []):
        shape = getattr(weight, "shape", ())
        shapes.append([None if d is None else int(d) for d in tuple(shape)])
    return shapes


def write_signature(model: Any, directory: str) -> None:
    try:
        path = os.path.join(directory, SIGNATURE_FILE)
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            json.dump(model_signature(model), fh)
        os.replace(path + ".tmp", path)
    except (OSError, TypeError, ValueError) as exc:  # resume only loses its model check
        logger.warning("could not record the model's shape in %s (%s)", directory, exc)


def _same_model(model: Any, directory: str) -> bool:
    """False when the checkpoint in ``directory`` was saved from a differently shaped model
    (a script that draws its architecture at random, a changed layer). Unknown: True."""
    try:
        with open(os.path.join(directory, SIGNATURE_FILE), encoding="utf-8") as fh:
            saved = json.load(fh)
    except (OSError, ValueError):
        return True  # an older checkpoint without a signature: let Keras try
    current = model_signature(model)
    return not current or bool(saved == current)  # an unbuilt model: nothing to compare


def _start_afresh(model: Any, directory: str) -> None:
    """Drop a checkpoint of another model: this fit starts at its first epoch, and says so."""
    why = (
        "the checkpoint was saved from a model with other layers or shapes (the script "
        "builds a different model in this attempt); this fit starts from its first epoch"
    )
    logger.warning("%s: %s", directory, why)
    shutil.rmtree(directory, ignore_errors=True)
    if hasattr(model, "_initial_epoch"):
        model._initial_epoch = None
    events.emit(
        "checkpoint",
        path=directory,
        epoch=None,
        restored=False,
        fallback="clean_start",
        error=f"model mismatch: {why}",
    )


def _said_fallback(path: str, epoch: int | None, fallback: str, error: BaseException) -> None:
    """The ``checkpoint`` event of a restore that could not use the latest backup."""
    events.emit(
        "checkpoint",
        path=path,
        epoch=epoch,
        restored=fallback != "clean_start",
        fallback=fallback,
        error=f"{type(error).__name__}: {error}",
    )


def _make_backup_class(base: type) -> type:
    class TrainchainBackup(base):  # type: ignore[misc]
        def on_train_begin(self, logs: Any = None) -> None:
            resumed = os.path.isdir(self.backup_dir) and bool(os.listdir(self.backup_dir))
            if resumed and not _same_model(self.model, self.backup_dir):
                _start_afresh(self.model, self.backup_dir)
                resumed = False  # the restore below finds nothing: Keras 2 still sets up
            try:
                self._restore()
            except Exception as exc:  # noqa: BLE001 - latest backup unreadable: try the previous
                if self._restore_previous(exc):
                    return
                logger.warning(
                    "the checkpoint in %s is unreadable (%s: %s); this fit starts "
                    "from its first epoch",
                    self.backup_dir,
                    type(exc).__name__,
                    exc,
                )
                shutil.rmtree(self.backup_dir, ignore_errors=True)
                if hasattr(self.model, "_initial_epoch"):
                    self.model._initial_epoch = None
                _said_fallback(self.backup_dir, None, "clean_start", exc)
                return
            if resumed:
                epoch = getattr(self.model, "_initial_epoch", None)
                events.emit("checkpoint", path=self.backup_dir, epoch=epoch, restored=True)

        def _restore(self) -> None:
            # Keras 3's own on_train_begin falls back to the previous backup silently and only
            # on OSError; load the latest ourselves so every fallback is ours and is said.
            if hasattr(self, "_load_model") and hasattr(self, "_prev_weights_path"):
                self._load_model()
            else:  # tf_keras (Keras 2): its own restore logic
                super().on_train_begin(None)

        def _restore_previous(self, error: BaseException) -> bool:
            """Load the backup before the latest (``double_checkpoint``); False if none loads."""
            previous = getattr(self, "_prev_weights_path", None)
            if not previous or not os.path.exists(previous):
                return False
            prev_meta = self._prev_training_metadata_path
            try:
                shutil.copyfile(previous, self._weights_path)
                if os.path.exists(prev_meta):
                    shutil.copyfile(prev_meta, self._training_metadata_path)
                elif os.path.exists(self._training_metadata_path):
                    os.remove(self._training_metadata_path)
                self._load_model()
            except Exception as exc:  # noqa: BLE001 - the previous one is bad too
                logger.warning(
                    "the previous checkpoint in %s is unreadable too (%s: %s)",
                    self.backup_dir,
                    type(exc).__name__,
                    exc,
                )
                return False
            epoch = getattr(self.model, "_initial_epoch", None)
            logger.warning(
                "the latest checkpoint in %s is unreadable (%s: %s); resuming from the "
                "previous one (after epoch %s)",
                self.backup_dir, type(error).__name__, error, epoch,
            )  # fmt: skip
            _said_fallback(self.backup_dir, epoch, "previous", error)
            return True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            try:
                super().on_epoch_end(epoch, logs)
            except OSError as exc:  # a full or read-only disk must not end the training
                if not getattr(self, "_write_failed", False):
                    logger.warning(
                        "could not write the checkpoint in %s (%s: %s); training goes on, "
                        "but a restart resumes from an older checkpoint or the first epoch: "
                        "free space there",
                        self.backup_dir, type(exc).__name__, exc,
                    )  # fmt: skip
                self._write_failed = True
                events.emit(
                    "checkpoint",
                    path=self.backup_dir,
                    epoch=epoch + 1,
                    error=f"{type(exc).__name__}: {exc}",
                )
                return
            write_signature(self.model, self.backup_dir)
            events.emit("checkpoint", path=self.backup_dir, epoch=epoch + 1)

    return TrainchainBackup
