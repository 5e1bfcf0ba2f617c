"""Best-epoch models and early stopping inside one Keras ``fit``, for unmodified scripts.

A callback added to every hooked ``fit``:
- follows the trial's metric per epoch (``val_<metric>`` first, as the controller reads it);
  each new best saves the weights next to the fit's checkpoint (``best.weights.h5`` +
  ``best.json``, so a restarted attempt keeps its best) and emits ``best``;
- ends ``fit`` early (``early_stop``) when the metric has not improved for ``patience`` epochs
  (derived from the epoch budget unless the controller sets it), became NaN, or reached the
  target (when the trial is judged on this epoch metric);
- at the end of ``fit`` loads the best epoch's weights back, so what the script evaluates and
  saves, and what the trial registers, is the best epoch's model; a fit stopped by SIGTERM
  (the tuning budget's deadline) does the same before the agent saves the model
  (``keep_best_on_stop``).

Settings come from ``TRAINCHAIN_FIT`` (JSON: ``metric``, ``goal``, ``target``, ``patience``),
set by the controller; standalone runs keep the best epoch but never stop early.
Standard library only at module level.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from typing import Any

from trainchain.agent import contract, events

logger = logging.getLogger(__name__)

ENV = contract.FIT
ACCURACY_LIKE = ("accuracy", "acc", "auc", "f1", "f1_score", "precision", "recall", "r2")
HELD_OUT = ("val_", "validation_", "test_", "eval_")
BEST_WEIGHTS, BEST_META = "best.weights.h5", "best.json"
PROXY_MARGIN = 0.02  # stop a val_accuracy at target + this when the trial's metric is a test one


@dataclass(frozen=True)
class FitSettings:
    metric: str = "auto"
    goal: str = "maximize"
    target: float | None = None
    patience: int | None = None  # None: derived from the epochs (``patience_for``)
    early_stop: bool = False  # only under the controller: a standalone run trains as written


def settings(environ: dict[str, str] | None = None) -> FitSettings:
    env = os.environ if environ is None else environ
    raw = env.get(ENV)
    if not raw:
        return FitSettings()
    try:
        data = json.loads(raw)
        return FitSettings(
            metric=str(data.get("metric") or "auto"),
            goal="minimize" if data.get("goal") == "minimize" else "maximize",
            target=float(data["target"]) if data.get("target") is not None else None,
            patience=int(data["patience"]) if data.get("patience") is not None else None,
            early_stop=bool(data.get("early_stop", True)),
        )
    except (ValueError, TypeError, AttributeError) as exc:
        logger.warning("%s is not valid (%s); keeping the best epoch without early stop", ENV, exc)
        return FitSettings()


def patience_for(epochs: int) -> int:
    """Epochs without improvement before stopping: a quarter of the budget, 2..10."""
    return max(2, min(10, math.ceil(epochs / 4)))


def _base(name: str) -> str:
    low = name.lower()
    for prefix in HELD_OUT:
        if low.startswith(prefix):
            return low[len(prefix) :]
    return low


def monitored(logs: dict[str, Any], wanted: str, goal: str) -> tuple[str, str] | None:
    """(key in the epoch logs, "maximize"|"minimize") of the metric to follow, or None."""
    keys = [k for k in logs if _is_number(logs[k]) or _is_nan(logs[k])]
    if wanted != "auto":
        for key in (f"val_{_base(wanted)}", wanted, _base(wanted)):
            if key in keys:
                return key, _direction(key, goal)
        return None
    for prefix in ("val_", "") if goal == "maximize" else ():
        for key in keys:
            if key.lower().startswith(prefix) and _base(key) in ACCURACY_LIKE:
                return key, "maximize"
    for key in ("val_loss", "loss"):
        if key in keys:
            return key, "minimize"
    return None


def _direction(key: str, goal: str) -> str:
    base = _base(key)
    if base in ACCURACY_LIKE:
        return "maximize"
    if "loss" in base or "error" in base or base in ("mse", "mae", "rmse"):
        return "minimize"
    return goal


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _is_nan(value: Any) -> bool:
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class BestTracker:
    """The framework-free part of the callback: best value, patience, stop decisions."""

    def __init__(self, conf: FitSettings, epochs: int) -> None:
        self.conf = conf
        self.patience = conf.patience if conf.patience is not None else patience_for(epochs)
        self.key: str | None = None
        self.direction = conf.goal
        self.best: float | None = None
        self.best_epoch = 0
        self.best_metrics: dict[str, float] = {}  # every metric of the best epoch
        self.last_epoch = 0

    def restore_state(self, meta: dict[str, Any]) -> None:
        """The best of an earlier attempt of this fit (a resumed training)."""
        self.key, self.best = meta.get("metric"), meta.get("value")
        self.best_epoch = int(meta.get("epoch") or 0)
        self.best_metrics = dict(meta.get("metrics") or {})
        self.direction = meta.get("direction") or self.direction

    def update(self, epoch: int, logs: dict[str, Any]) -> tuple[bool, str | None]:
        """(is a new best, why to stop now or None) after 1-based ``epoch``."""
        self.last_epoch = epoch
        if self.key is None or self.key not in logs:
            found = monitored(logs, self.conf.metric, self.conf.goal)
            if found is None:
                return False, None
            self.key, self.direction = found
        raw = logs.get(self.key)
        if not _is_number(raw):
            return False, f"{self.key} is {raw} at epoch {epoch}: training diverged"
        value = float(raw)  # type: ignore[arg-type]  # a number: checked above
        improved = self.best is None or (
            value > self.best if self.direction == "maximize" else value < self.best
        )
        if improved:
            self.best, self.best_epoch = value, epoch
            self.best_metrics = {k: float(v) for k, v in logs.items() if _is_number(v)}
        return improved, self._stop_reason(epoch, value)

    def target(self) -> float | None:
        """Where to stop: the target when the trial is judged on this epoch metric; when it is
        judged on its twin measured after fit (``accuracy`` from ``evaluate`` on a test split),
        the target plus ``PROXY_MARGIN``, since the test figure scatters around the validation
        one; else no stop at the target."""
        target, key, wanted = self.conf.target, self.key, self.conf.metric
        if target is None or key is None or wanted == "auto":
            return None
        if key == wanted:
            return target
        if _base(key) == _base(wanted) and self.direction == "maximize":
            return target + PROXY_MARGIN
        return None

    def _stop_reason(self, epoch: int, value: float) -> str | None:
        if not self.conf.early_stop:
            return None
        target = self.target()
        if target is not None:
            if value >= target if self.direction == "maximize" else value <= target:
                return f"{self.key} {value:.4g} reached the target {target:g}"
        if epoch - self.best_epoch >= self.patience:
            return (
                f"{self.key} has not improved for {epoch - self.best_epoch} epochs "
                f"(best {self.best:.4g} at epoch {self.best_epoch}; patience {self.patience})"
            )
        return None


_classes: dict[str, type] = {}


def callback(keras: Any, ckpt_dir: str, epochs: int) -> Any:
    """A ``keras.callbacks.Callback`` keeping the best epoch of this fit (see the module)."""
    base = keras.callbacks.Callback
    key = f"{base.__module__}.{base.__qualname__}"
    if key not in _classes:
        _classes[key] = _make_class(base)
    return _classes[key](BestTracker(settings(), epochs), ckpt_dir)


def _make_class(base: type) -> type:
    class TrainchainBestEpoch(base):  # type: ignore[misc]
        def __init__(self, tracker: BestTracker, ckpt_dir: str) -> None:
            super().__init__()
            self.tracker, self.ckpt_dir = tracker, ckpt_dir
            self.said = False  # a best event in this attempt
            self.weights = os.path.join(ckpt_dir, BEST_WEIGHTS)
            self.meta = os.path.join(ckpt_dir, BEST_META)

        def on_train_begin(self, logs: Any = None) -> None:
            try:
                with open(self.meta, encoding="utf-8") as fh:
                    self.tracker.restore_state(json.load(fh))
            except (OSError, ValueError):
                pass  # a fresh fit

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            improved, stop = self.tracker.update(epoch + 1, dict(logs or {}))
            t = self.tracker
            if improved and t.best is not None:
                self._save()
                self._say()
            if stop is not None:
                self.model.stop_training = True
                events.emit("early_stop", epoch=epoch + 1, why=stop)

        def _say(self) -> None:
            t = self.tracker
            self.said = True
            events.emit(
                "best", epoch=t.best_epoch, value=t.best, metric=t.key, metrics=t.best_metrics
            )

        def _save(self) -> None:
            try:
                os.makedirs(self.ckpt_dir, exist_ok=True)
                self.model.save_weights(self.weights)
                meta = {
                    "metric": self.tracker.key,
                    "value": self.tracker.best,
                    "epoch": self.tracker.best_epoch,
                    "direction": self.tracker.direction,
                    "metrics": self.tracker.best_metrics,
                }
                with open(self.meta + ".tmp", "w", encoding="utf-8") as fh:
                    json.dump(meta, fh)
                os.replace(self.meta + ".tmp", self.meta)
            except Exception as exc:  # noqa: BLE001 - the last epoch's model is kept instead
                logger.warning("could not keep the best epoch's weights (%s: %s)", type(exc), exc)

        def keep_best_on_stop(self) -> bool:
            """The process is being stopped mid-fit (SIGTERM: the tuning budget's deadline or
            pruning): load the best epoch's weights back, as the end of fit would, and say its
            ``best`` event in this attempt. False when no epoch ended yet or its weights cannot
            be loaded (the model in memory is then some batches past any epoch)."""
            t = self.tracker
            if not t.best_epoch or not os.path.exists(self.weights):
                return False
            try:
                self.model.load_weights(self.weights)
            except Exception as exc:  # noqa: BLE001 - nothing to keep
                logger.warning("could not restore the best epoch (%s: %s)", type(exc), exc)
                return False
            self._say()
            return True

        def on_train_end(self, logs: Any = None) -> None:
            t = self.tracker
            if t.best_epoch and not self.said:  # found by an earlier attempt: say it here too
                self._say()
            if not t.best_epoch or t.best_epoch == t.last_epoch or not os.path.exists(self.weights):
                return
            try:
                self.model.load_weights(self.weights)
            except Exception as exc:  # noqa: BLE001 - keep the last epoch's weights
                logger.warning("could not restore the best epoch (%s: %s)", type(exc), exc)
                return
            logger.info("restored the weights of epoch %d (%s %.4g)", t.best_epoch, t.key, t.best)

    return TrainchainBestEpoch


def class_balance(kwargs: dict[str, Any], model: Any) -> dict[str, Any] | None:
    """Chance level of a classifier's accuracy: the largest class share of the validation
    labels (else the training labels), at least 1/classes from the output layer."""
    count = _output_classes(model)
    for where, labels in (("validation", _val_labels(kwargs)), ("training", _train_labels(kwargs))):
        shares = _shares(labels)
        if shares:
            n = max(len(shares), count or 0)
            return {"classes": n, "majority": max(shares), "chance": max(shares), "from": where}
    if count:
        return {"classes": count, "majority": None, "chance": 1.0 / count, "from": "output layer"}
    return None


def _output_classes(model: Any) -> int | None:
    try:
        units = int(model.outputs[0].shape[-1])
    except Exception:  # noqa: BLE001 - a subclassed model without symbolic outputs
        return None
    return 2 if units == 1 else units


def _val_labels(kwargs: dict[str, Any]) -> Any:
    val = kwargs.get("validation_data")
    if isinstance(val, tuple | list) and len(val) >= 2:
        return val[1]
    return getattr(val, "classes", None)  # a Keras directory iterator


def _train_labels(kwargs: dict[str, Any]) -> Any:
    if kwargs.get("y") is not None:
        return kwargs["y"]
    return getattr(kwargs.get("x"), "classes", None)


def _shares(labels: Any) -> list[float]:
    """Class shares of integer or one-hot labels; empty for anything else (regression)."""
    if labels is None or not hasattr(labels, "__len__"):
        return []
    try:
        import numpy as np

        arr = np.asarray(labels)
        if arr.ndim == 2 and arr.shape[1] > 1:
            arr = arr.argmax(axis=1)
        arr = arr.reshape(-1) if arr.ndim == 2 and arr.shape[1] == 1 else arr
        if arr.ndim != 1 or not len(arr) or (arr.dtype.kind == "f" and np.any(arr != arr // 1)):
            return []
        _, counts = np.unique(arr, return_counts=True)
    except Exception:  # noqa: BLE001 - labels of an unknown kind: no chance level
        return []
    if len(counts) > 1000:
        return []  # not class labels
    return [float(c) / float(counts.sum()) for c in counts]
