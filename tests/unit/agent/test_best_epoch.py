"""Best-epoch models, early stop and the chance level, on real Keras fits and synthetic curves."""

from __future__ import annotations

import json

import pytest

from conftest import RunAgent
from trainchain.agent.best_epoch import BestTracker, FitSettings, monitored, patience_for

# The script's own callback wipes the weights from epoch 3 on: epochs 3.. sit at chance, so the
# best epoch is 2 and the model the script evaluates must be epoch 2's, not the last one's.
WIPED_AT_EPOCH_3 = """
import numpy as np
from sklearn.datasets import load_digits
import keras

d = load_digits()
x = (d.images / 16.0).astype("float32")[..., None]
y = d.target
xt, yt, xv, yv = x[:1200], y[:1200], x[1200:], y[1200:]

class Wipe(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= 2:  # and no more learning: Adam's momentum would undo the wipe
            self.model.set_weights([np.zeros_like(w) for w in self.model.get_weights()])
            self.model.optimizer.learning_rate = 0.0

keras.utils.set_random_seed(1)
model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    keras.layers.Flatten(),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(xt, yt, epochs=EPOCHS, batch_size=64, validation_data=(xv, yv), verbose=0,
          callbacks=[Wipe()])
loss, acc = model.evaluate(xv, yv, verbose=0)
print("evaluated", acc)
"""


def _fit_env(**conf: object) -> dict[str, str]:
    return {"TRAINCHAIN_FIT": json.dumps(conf)}


def test_the_best_epoch_is_restored_and_a_plateau_stops_fit(run_agent: RunAgent) -> None:
    pytest.importorskip("keras")
    script = "EPOCHS = 8\n" + WIPED_AT_EPOCH_3
    run = run_agent(script, extra_env=_fit_env(metric="auto", goal="maximize", patience=3))
    assert run.returncode == 0, run.stderr
    curve = {e["epoch"]: e["metrics"]["val_accuracy"] for e in run.of("epoch")}
    best = run.of("best")
    assert best and best[-1]["metric"] == "val_accuracy"
    assert best[-1]["epoch"] == max(curve, key=lambda n: (curve[n], -n)) <= 2
    assert max(curve.values()) > 0.5 and curve[3] < 0.3  # epoch 3 really was worse
    stop = run.of("early_stop")
    assert [s["epoch"] for s in stop] == [best[-1]["epoch"] + 3], stop
    assert max(curve) == stop[0]["epoch"] < 8  # fit ended there
    evaluated = run.metrics("keras_evaluate")["accuracy"]
    assert evaluated == pytest.approx(best[-1]["value"], abs=1e-6)  # the model is epoch 2's
    classes = run.of("classes")
    assert classes and classes[0]["classes"] == 10 and classes[0]["from"] == "validation"
    assert 0.1 <= classes[0]["chance"] < 0.12


def test_standalone_keeps_the_best_epoch_but_trains_every_epoch(run_agent: RunAgent) -> None:
    pytest.importorskip("keras")
    run = run_agent("EPOCHS = 5\n" + WIPED_AT_EPOCH_3)
    assert run.returncode == 0, run.stderr
    assert [e["epoch"] for e in run.of("epoch")] == [1, 2, 3, 4, 5]
    assert not run.of("early_stop")
    assert run.metrics("keras_evaluate")["accuracy"] == pytest.approx(
        run.of("best")[-1]["value"], abs=1e-6
    )


def _track(curve: list[float], conf: FitSettings, epochs: int = 20) -> tuple[int, str | None]:
    tracker = BestTracker(conf, epochs)
    for epoch, value in enumerate(curve, 1):
        _, stop = tracker.update(epoch, {"val_loss": 1.0, "val_accuracy": value})
        if stop:
            return tracker.best_epoch, stop
    return tracker.best_epoch, None


def test_tracker_best_epoch_patience_target_and_nan() -> None:
    on = FitSettings(early_stop=True)
    assert _track([0.5, 0.7, 0.6, 0.65], FitSettings()) == (2, None)  # standalone: no stop
    best, why = _track([0.5, 0.7, 0.6, 0.65, 0.69, 0.7, 0.6], on)  # a tie is no improvement
    assert best == 2 and why and "not improved for 5 epochs" in why
    assert _track([0.5, 0.7, 0.6], on)[1] is None
    on_target = FitSettings(metric="val_accuracy", early_stop=True, target=0.9)
    best, why = _track([0.5, 0.91, 0.95], on_target)
    assert best == 2 and why and "reached the target" in why
    # judged on its test twin (accuracy from evaluate): a margin above the target
    proxy = FitSettings(metric="accuracy", early_stop=True, target=0.9)
    best, why = _track([0.5, 0.91, 0.93], proxy)
    assert best == 3 and "0.93 reached the target 0.92" in (why or "")
    assert _track([0.5, 0.91, 0.95], FitSettings(early_stop=True, target=0.9))[1] is None
    best, why = _track([0.5, float("nan")], on)
    assert best == 1 and why and "diverged" in why


def test_patience_and_monitored_metric() -> None:
    assert [patience_for(n) for n in (1, 3, 8, 20, 40)] == [2, 2, 2, 5, 10]
    logs = {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.4}
    assert monitored(logs, "auto", "maximize") == ("val_accuracy", "maximize")
    assert monitored(logs, "auto", "minimize") == ("val_loss", "minimize")
    assert monitored(logs, "accuracy", "maximize") == ("val_accuracy", "maximize")
    assert monitored({"loss": 1.0, "mae": 2.0}, "auto", "maximize") == ("loss", "minimize")
    assert monitored({"loss": 1.0}, "f1", "maximize") is None
