"""Real Keras training under the agent: epochs, evaluate, model, knobs, resume after kill -9.

Tiny models on small data (digits, random images) so the whole file stays near a minute.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import RunAgent, agent_env, read_events

pytest.importorskip("keras")
pytestmark = pytest.mark.timeout(300)

DIGITS_CNN = """
from sklearn.datasets import load_digits
from tensorflow import keras
from tensorflow.keras import layers

EPOCHS = 1
d = load_digits()
x = (d.images / 16.0).astype("float32")[..., None]
y = d.target
model = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Conv2D(8, (3, 3), activation="relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Flatten(),
    layers.Dense(16, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
print("lr", round(float(model.optimizer.learning_rate), 6))
model.fit(x[:1200], y[:1200], epochs=EPOCHS, batch_size=64, validation_split=0.2, verbose=2)
loss, acc = model.evaluate(x[1200:], y[1200:], verbose=0)
print("Test accuracy:", acc)
"""


def test_fit_evaluate_model_and_fit_knobs(run_agent: RunAgent) -> None:
    params = {"keras.epochs": 2, "keras.batch_size": 32, "keras.learning_rate": 0.01}
    run = run_agent(DIGITS_CNN, params=params)
    assert run.returncode == 0, run.stderr
    assert "lr 0.01\n" in run.stdout  # the string "adam" got the tuned learning rate
    fit = run.of("fit")
    assert [(f["call"], f["epochs"], f["batch_size"], f["initial_epoch"]) for f in fit] == [
        (1, 2, 32, 0)
    ]
    epochs = run.of("epoch")
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert set(epochs[0]["metrics"]) == {"accuracy", "loss", "val_accuracy", "val_loss"}
    assert all(isinstance(v, float) for v in epochs[1]["metrics"].values())
    assert [c["epoch"] for c in run.of("checkpoint")] == [1, 2]
    evaluated = run.metrics("keras_evaluate")
    assert set(evaluated) == {"loss", "accuracy"}  # compile_metrics resolved to real names
    printed = float(run.stdout.rsplit("Test accuracy:", 1)[1])
    assert evaluated["accuracy"] == pytest.approx(printed)  # evaluate's return is intact
    assert run.metrics("stdout") == {"test_accuracy": pytest.approx(printed)}  # no Keras noise
    model = run.workdir / "output" / "model.keras"
    assert [m["path"] for m in run.of("model")] == [str(model)] and model.stat().st_size > 0
    assert {n: how for n, (_, how) in run.params().items()} == dict.fromkeys(params, "keras")
    assert not run.of("architecture")  # no architecture knob was asked for
    assert run.end["status"] == "ok"


CATDOG_CNN = """
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(0)
x = rng.random((16, 32, 32, 3), dtype="float32")
y = rng.integers(0, 2, 16)
model = keras.Sequential()
model.add(layers.Conv2D(32, (3, 3), activation="relu", input_shape=(32, 32, 3)))
model.add(layers.MaxPooling2D(pool_size=(2, 2)))
model.add(layers.Conv2D(32, (3, 3), activation="relu"))
model.add(layers.MaxPooling2D(pool_size=(2, 2)))
model.add(layers.Flatten())
model.add(layers.Dense(units=128, activation="relu"))
model.add(layers.Dense(units=1, activation="sigmoid"))
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=1, verbose=0)
print("params", model.count_params(), "layers", len(model.layers))
"""


def test_architecture_knobs_change_an_unmodified_sequential_cnn(run_agent: RunAgent) -> None:
    knobs = {"keras.width": 2, "keras.extra_conv_blocks": 2, "keras.dropout": 0.25}
    run = run_agent(CATDOG_CNN, params=knobs)
    assert run.returncode == 0, run.stderr
    (arch,) = run.of("architecture")
    assert arch["knobs"] == knobs
    # Before: Conv 896 + Conv 9248 + Dense(6*6*32 -> 128) 147584 + Dense 129.
    assert arch["before"] == {"layers": 7, "params": 157857}
    # After: filters/units x2 except the output; one extra Conv+Pool fits (6x6 -> 2x2), a
    # second would not; Dropout before the output.
    # Conv 1792 + Conv 36928 + extra Conv 36928 + Dense(2*2*64 -> 256) 65792 + Dense 257.
    assert arch["after"] == {"layers": 10, "params": 141697}
    assert any("added 1 of 2 extra conv blocks" in note for note in arch["notes"])
    assert "added 1 of 2 extra conv blocks" in run.stderr  # and the run says so
    assert "params 141697 layers 10" in run.stdout  # the script's own model object changed


RESUMABLE = """
import time
import tensorflow as tf
from sklearn.datasets import load_digits

x, y = load_digits(return_X_y=True)
x = (x / 16.0).astype("float32")
model = tf.keras.Sequential([  # no input shape: built lazily by the first batch
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=2, verbose=0)  # a first fit, finished before the crash

class Slow(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.4)

history = model.fit(x, y, epochs=6, verbose=0, callbacks=[Slow()])
print("epochs in history", len(history.history["loss"]))
"""


def test_backup_and_restore_resumes_after_kill_9(staged_agent: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(RESUMABLE)
    env = agent_env(staged_agent, tmp_path, {})
    events_file = tmp_path / "events.jsonl"
    cmd = [sys.executable, "-m", "trainchain.agent", "train.py"]
    log = tmp_path / "attempt1.log"
    with open(log, "w") as stderr:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                stderr=stderr)  # fmt: skip
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if any(e["type"] == "checkpoint" and "keras-fit-2" in e["path"]
                       and (e["epoch"] or 0) >= 2 for e in read_events(events_file)):  # fmt: skip
                    break
                time.sleep(0.05)
            assert proc.poll() is None, f"the first attempt ended early:\n{log.read_text()}"
            os.kill(proc.pid, signal.SIGKILL)  # really kill it, mid-training
        finally:
            proc.kill()
            proc.wait(timeout=30)
    first = read_events(events_file)
    assert proc.returncode == -signal.SIGKILL
    assert not [e for e in first if e["type"] == "end"]
    killed_at = max(e["epoch"] for e in first if e["type"] == "checkpoint"
                    and "keras-fit-2" in e["path"])  # fmt: skip

    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert second.returncode == 0, second.stderr
    events = read_events(events_file)[len(first) :]
    assert events[0]["type"] == "start" and events[0]["resumed"] is True
    fits = [e for e in events if e["type"] == "fit"]
    assert fits[0]["call"] == 1 and fits[0]["skipped"] is True  # finished fit not redone
    # ... and its epochs are replayed from its completion record, as attempt 1 reported them
    (recovered,) = [e for e in events if e["type"] == "recovered"]
    first_fit = [e for e in first if e["type"] == "epoch"][:2]
    assert recovered["epochs"] == [
        {"epoch": e["epoch"], "metrics": e["metrics"]} for e in first_fit
    ]
    assert fits[1]["call"] == 2 and fits[1]["initial_epoch"] >= killed_at >= 2
    epochs = [e["epoch"] for e in events if e["type"] == "epoch"]
    assert epochs[0] == fits[1]["initial_epoch"] + 1 > 1
    assert epochs[-1] == 6
    restored = [e for e in events if e["type"] == "checkpoint" and e.get("restored")]
    assert restored and restored[0]["epoch"] == fits[1]["initial_epoch"]
    assert events[-1]["type"] == "end" and events[-1]["status"] == "ok"
    assert (tmp_path / "output" / "model.keras").exists()
