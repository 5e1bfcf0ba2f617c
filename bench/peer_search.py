"""One peer search (KerasTuner Hyperband/RandomSearch, Optuna random/TPE) on a hypermodel.

The peers in ``bench_peers.py``: what a KerasTuner or Optuna user writes to tune the same
network as
``examples/digits-cnn`` or ``examples/catdog-cnn`` with the same knobs trainchain searches
(epochs, batch size, learning rate, widths, extra Conv+Pool blocks, dropout before the output,
augmentation layers in front, BatchNormalization after convolutions, optimizer), on the same
data split, against the same metric (``val_accuracy``, any epoch). The search stops when an
epoch reaches the target, when the wall-time budget is spent, or when the tuner ends.

- ``hyperband``: ``kt.Hyperband(max_epochs=<top of the epochs range>, factor=3)`` (it reloads
  the weights of a promoted trial: epochs are its resource);
- ``random``: ``kt.RandomSearch(max_trials)``, epochs a hyperparameter;
- ``optuna-random`` / ``optuna-tpe``: an Optuna study with ``RandomSampler`` / ``TPESampler()``
  at Optuna's defaults (10 random start-up trials), no pruner, ``n_trials=max_trials``; the
  same ``build`` through a four-method adapter from KerasTuner's ``hp`` to ``trial.suggest_*``.

Run: ``python bench/peer_search.py --task digits --tuner hyperband --seed 0 --target 0.98``;
prints one JSON line (reached, seconds since the process started, trials, epochs, best).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()  # the peer's clock starts before Keras loads, as trainchain's does

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# the agent's choices (trainchain.agent.keras_arch.AUGMENTS), written out: the peer is standalone
AUGMENTS = {
    "none": [],
    "flip": ["flip"],
    "flip_rotate": ["flip", "rotate"],
    "flip_rotate_zoom": ["flip", "rotate", "zoom"],
}
# the ranges trainchain derives for each example (`trainchain detect examples/<task>`)
SPACES = {
    "digits": {"epochs": (1, 20), "batch": (8, 128), "lr": (1e-5, 1e-2)},
    "catdog": {"epochs": (2, 20), "batch": (8, 128), "lr": (1e-4, 1e-2)},
}
COUNT: dict[str, Any] = {"epochs": 0, "reached": None, "best": 0.0, "deadline": float("inf")}


def digits_data() -> tuple[Any, Any]:
    """The example's split: 60% train, 20% validation (the 20% test split is not used)."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    y = digits.target
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, y, test_size=0.4, random_state=0, stratify=y
    )
    x_val, _, y_val, _ = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    return (x_train, y_train), (x_val, y_val)


def catdog_data() -> tuple[Any, Any]:
    """The example's images, unbatched (the batch size is a hyperparameter here)."""
    options = dict(image_size=(64, 64), batch_size=None, label_mode="binary", seed=0)
    root = SHARED_DATA / "catdog"
    train = keras.utils.image_dataset_from_directory(root / "training_set", **options)
    val = keras.utils.image_dataset_from_directory(root / "test_set", **options)
    return train, val


class ExampleHyperModel(kt.HyperModel):  # type: ignore[misc]
    """The example's Sequential network with trainchain's knobs as hyperparameters."""

    def __init__(self, task: str) -> None:
        super().__init__()
        self.task = task

    def build(self, hp: Any) -> Any:
        width = hp.Float("width", 0.5, 2.0, sampling="log")
        layers = keras.layers
        stack: list[Any] = []
        augment = AUGMENTS[hp.Choice("augment", list(AUGMENTS))]
        for name in augment if self.task != "digits" else []:  # the agent's 32x32 minimum
            stack.append(
                {
                    "flip": lambda: layers.RandomFlip("horizontal"),
                    "rotate": lambda: layers.RandomRotation(0.1),
                    "zoom": lambda: layers.RandomZoom(0.1),
                }[name]()
            )
        batchnorm = hp.Boolean("batchnorm")
        if self.task == "digits":
            filters = max(1, round(hp.Int("filters", 8, 128, sampling="log") * width))
            dense = max(1, round(hp.Int("dense_units", 16, 256, sampling="log") * width))
            shape, convs, out = (8, 8, 1), [(filters, "same")], (10, "softmax")
        else:
            filters, dense = max(1, round(32 * width)), max(1, round(128 * width))
            shape, convs, out = (64, 64, 3), [(filters, "valid")] * 2, (1, "sigmoid")
            stack.append(layers.Rescaling(1.0 / 255))
        side = shape[0]
        for n, padding in convs:
            stack.append(layers.Conv2D(n, (3, 3), activation="relu", padding=padding))
            stack += [layers.BatchNormalization()] if batchnorm else []
            stack.append(layers.MaxPooling2D((2, 2)))
            side = (side - (0 if padding == "same" else 2)) // 2
        for _ in range(hp.Int("extra_conv_blocks", 0, 2)):
            conv_side = side - (0 if convs[-1][1] == "same" else 2)
            if conv_side < 2:  # the agent's rule: no block that leaves less than 2x2
                break
            stack.append(layers.Conv2D(convs[-1][0], 3, activation="relu", padding=convs[-1][1]))
            stack += [layers.BatchNormalization()] if batchnorm else []
            stack.append(layers.MaxPooling2D(2))
            side = conv_side // 2
        stack += [layers.Flatten(), layers.Dense(dense, activation="relu")]
        rate = hp.Float("dropout", 0.0, 0.5)
        stack += [layers.Dropout(rate)] if rate > 0 else []
        stack.append(layers.Dense(out[0], activation=out[1]))
        model = keras.Sequential([keras.Input(shape=shape), *stack])
        low, high = SPACES[self.task]["lr"]
        lr = hp.Float("learning_rate", low, high, sampling="log")
        optimizer = {
            "adam": lambda: keras.optimizers.Adam(lr),
            "sgd": lambda: keras.optimizers.SGD(lr, momentum=0.9),
            "rmsprop": lambda: keras.optimizers.RMSprop(lr),
        }[hp.Choice("optimizer", ["adam", "sgd", "rmsprop"])]()
        loss = "sparse_categorical_crossentropy" if self.task == "digits" else "binary_crossentropy"
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
        return model

    def fit(self, hp: Any, model: Any, x: Any, validation_data: Any, **kwargs: Any) -> Any:
        low, high = SPACES[self.task]["batch"]
        batch = hp.Int("batch_size", low, high, sampling="log")
        if "tuner/epochs" not in hp.values:  # RandomSearch: epochs are a hyperparameter
            kwargs["epochs"] = hp.Int("epochs", *SPACES[self.task]["epochs"])
        kwargs["callbacks"] = [*kwargs.get("callbacks", []), TargetReached()]
        if self.task == "digits":
            (x_train, y_train), (x_val, y_val) = x, validation_data
            return model.fit(
                x_train, y_train, batch_size=batch, validation_data=(x_val, y_val), **kwargs
            )
        return model.fit(x.batch(batch), validation_data=validation_data.batch(batch), **kwargs)


class TargetReached(keras.callbacks.Callback):  # type: ignore[misc]
    """Counts epochs; stops the trial at the target or when the time budget is spent."""

    target = 1.0
    started = 0.0

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        COUNT["epochs"] += 1
        value = float((logs or {}).get("val_accuracy", 0.0))
        COUNT["best"] = max(COUNT["best"], value)
        if value >= self.target and COUNT["reached"] is None:
            COUNT["reached"] = time.perf_counter() - self.started
        if COUNT["reached"] is not None or time.monotonic() > COUNT["deadline"]:
            self.model.stop_training = True


def stopping(cls: type) -> type:
    class Stopping(cls):  # type: ignore[misc, valid-type]
        def _configure_tensorboard_dir(self, *args: Any, **kwargs: Any) -> None:
            pass  # it imports tensorboard (not installed) even with no TensorBoard callback

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            if COUNT["reached"] is not None or time.monotonic() > COUNT["deadline"]:
                self.oracle.max_trials = 1  # create_trial answers STOPPED from now on

    return Stopping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("digits", "catdog"), required=True)
    parser.add_argument(
        "--tuner", choices=("hyperband", "random", "optuna-random", "optuna-tpe"), required=True
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--max-trials", type=int, default=20, help="RandomSearch budget")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds")
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    start = T0
    COUNT["deadline"] = time.monotonic() + args.timeout
    TargetReached.target, TargetReached.started = args.target, start
    train, val = digits_data() if args.task == "digits" else catdog_data()
    hypermodel = ExampleHyperModel(args.task)
    if args.tuner.startswith("optuna-"):
        trials = optuna_search(args, hypermodel, train, val)
    else:
        trials = kt_search(args, hypermodel, train, val)
    seconds = time.perf_counter() - start
    reached = COUNT["reached"] is not None
    print(
        json.dumps(
            {
                "reached": reached,
                "seconds": COUNT["reached"] if reached else seconds,
                "search_seconds": seconds,
                "trials": trials,
                "epochs": COUNT["epochs"],
                "best": COUNT["best"],
            }
        )
    )


class OptunaHP:
    """KerasTuner's ``hp`` calls that ``build``/``fit`` make, answered by an Optuna trial."""

    values: dict[str, Any] = {}

    def __init__(self, trial: Any) -> None:
        self.trial = trial

    def Float(self, name: str, low: float, high: float, sampling: str = "linear") -> float:  # noqa: N802
        return float(self.trial.suggest_float(name, low, high, log=sampling == "log"))

    def Int(self, name: str, low: int, high: int, sampling: str = "linear") -> int:  # noqa: N802
        return int(self.trial.suggest_int(name, low, high, log=sampling == "log"))

    def Choice(self, name: str, values: list[Any]) -> Any:  # noqa: N802
        return self.trial.suggest_categorical(name, values)

    def Boolean(self, name: str) -> bool:  # noqa: N802
        return bool(self.trial.suggest_categorical(name, [False, True]))


def optuna_search(args: argparse.Namespace, hypermodel: Any, train: Any, val: Any) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (
        optuna.samplers.RandomSampler(seed=args.seed)
        if args.tuner == "optuna-random"
        else optuna.samplers.TPESampler(seed=args.seed)
    )
    study = optuna.create_study(
        direction="maximize", sampler=sampler, pruner=optuna.pruners.NopPruner()
    )

    def objective(trial: Any) -> float:
        hp = OptunaHP(trial)
        model = hypermodel.build(hp)
        history = hypermodel.fit(hp, model, train, validation_data=val, verbose=0)
        return max(history.history.get("val_accuracy") or [0.0])

    def stop(study: Any, trial: Any) -> None:
        if COUNT["reached"] is not None or time.monotonic() > COUNT["deadline"]:
            study.stop()

    study.optimize(objective, n_trials=args.max_trials, callbacks=[stop])
    return len(study.trials)


def kt_search(args: argparse.Namespace, hypermodel: Any, train: Any, val: Any) -> int:
    objective = kt.Objective("val_accuracy", direction="max")
    with tempfile.TemporaryDirectory(prefix="kt-") as tmp:
        common = dict(
            objective=objective, seed=args.seed, directory=tmp, project_name="p", overwrite=True
        )
        if args.tuner == "hyperband":
            tuner = stopping(kt.Hyperband)(
                hypermodel, max_epochs=SPACES[args.task]["epochs"][1], factor=3, **common
            )
        else:
            tuner = stopping(kt.RandomSearch)(hypermodel, max_trials=args.max_trials, **common)
        tuner.search(train, validation_data=val, verbose=0)
        return len(tuner.oracle.trials)


if __name__ == "__main__":
    sys.exit(main())
