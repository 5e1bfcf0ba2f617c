"""Traits of real scripts (issue 15): a crash after training, and steps past the end of the data.

- A script that fails after its training call returned ends with ``after_training: true`` and
  keeps its model; one that fails inside training does not.
- ``steps_per_epoch``/``validation_steps`` above one pass over a finite input are clamped to
  that pass (``adjusted`` event, with the evidence) after a ``data`` event with the sizes; the
  ``FULL_PASS_STEPS`` sentinel becomes one pass, or None when the length is unknown.
Keras 3 here; the Keras 2 (TF 2.15) case uses ``TRAINCHAIN_KERAS2_PYTHON``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.services import require

from conftest import RunAgent, agent_env, read_events
from trainchain.agent import FULL_PASS_STEPS

SKLEARN_CRASH_AFTER_FIT = """
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

x, y = load_digits(return_X_y=True)
model = LogisticRegression(max_iter=200).fit(x[:1000], y[:1000])
print(f"test_accuracy: {model.score(x[1000:], y[1000:]):.4f}")
open("report/summary.txt", "w").write("never")  # no such folder
"""


def test_sklearn_crash_after_fit_keeps_the_model_and_says_after_training(
    run_agent: RunAgent,
) -> None:
    run = run_agent(SKLEARN_CRASH_AFTER_FIT)
    assert run.returncode == 1  # the script's own exit code: the controller decides
    end = run.end
    assert end["status"] == "error" and end["after_training"] is True
    assert end["exception"]["type"] == "FileNotFoundError"
    assert (end["exception"]["file"], end["exception"]["line"]) == ("train.py", 8)
    model = run.of("model")
    assert model and Path(model[-1]["path"]).name == "model.joblib"
    assert Path(model[-1]["path"]).exists()
    assert "failed after its training finished (FileNotFoundError at train.py:8)" in run.stderr


def test_sklearn_crash_inside_fit_is_not_after_training(run_agent: RunAgent) -> None:
    script = """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    x = np.arange(20.0).reshape(10, 2)
    LogisticRegression().fit(x, np.arange(10) % 2)
    LogisticRegression().fit(x, np.zeros(10))  # one class only: ValueError inside fit
    """
    run = run_agent(script)
    assert run.returncode == 1
    assert run.end["exception"]["type"] == "ValueError"
    assert run.end["after_training"] is False


def test_exit_after_training_stays_a_failure(run_agent: RunAgent) -> None:
    script = """
    import sys
    from sklearn.linear_model import LogisticRegression
    LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    sys.exit("accuracy below what I accept")
    """
    run = run_agent(script)
    assert run.returncode == 1 and run.end["after_training"] is False


KERAS3_SEQUENCE = """
import numpy as np
import keras

class Batches(keras.utils.PyDataset):
    def __init__(self, n, size, **kw):
        super().__init__(**kw)
        rng = np.random.default_rng(n)
        self.x = rng.random((n, 8)).astype("float32")
        self.y = (self.x.sum(axis=1) > 4).astype("float32")
        self.size = size
    def __len__(self):
        return -(-len(self.x) // self.size)
    def __getitem__(self, i):
        s = slice(i * self.size, (i + 1) * self.size)
        return self.x[s], self.y[s]

def once():  # a generator: Keras cannot know its length
    train = Batches(96, 16)
    for i in range(len(train)):
        yield train[i]

class Steps(keras.callbacks.Callback):  # counts the batches trained (the best epoch's weights,
    n = 0                                 # restored at the end, carry an older step count)
    def on_train_batch_end(self, batch, logs=None):
        Steps.n += 1

STEPS = 50
model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(Batches(96, 16), steps_per_epoch=STEPS, epochs=3, validation_data=Batches(40, 8),
          validation_steps=800, verbose=0, callbacks=[Steps()])
print('trained', Steps.n)
model.fit(once(), steps_per_epoch=STEPS, epochs=1, verbose=0, callbacks=[Steps()])
print('then', Steps.n)
"""


@pytest.mark.timeout(300)
def test_keras3_steps_past_a_py_dataset_are_clamped_and_every_epoch_validates(
    run_agent: RunAgent,
) -> None:
    pytest.importorskip("keras")
    run = run_agent(KERAS3_SEQUENCE, params={"STEPS": FULL_PASS_STEPS})
    assert run.returncode == 0, run.stderr[-3000:]
    data = run.of("data")
    assert data[0] == {
        **data[0],
        "call": 1,
        "train_batches": 6,
        "val_batches": 5,
        "batch_size": None,  # a PyDataset keeps its batch size to itself
    }
    assert data[1]["train_batches"] is None  # a Python generator has no length
    adjusted = [(a["argument"], a["from"], a["to"]) for a in run.of("adjusted")]
    assert adjusted == [
        ("steps_per_epoch", FULL_PASS_STEPS, 6),
        ("validation_steps", 800, 5),
        ("steps_per_epoch", FULL_PASS_STEPS, None),
    ]
    why = run.of("adjusted")[1]["why"]
    assert "validation_steps=800" in why and "5 batches" in why and "ran out of data" in why
    epochs = [e for e in run.of("epoch")]
    assert [e["epoch"] for e in epochs[:3]] == [1, 2, 3]
    assert all("val_accuracy" in e["metrics"] for e in epochs[:3])
    assert "trained 18\n" in run.stdout  # 3 epochs of one pass (6 steps) each
    assert int(run.stdout.split("then ")[1]) > 18  # the generator ran until exhausted


def test_steps_within_the_data_are_left_alone(run_agent: RunAgent) -> None:
    pytest.importorskip("keras")
    run = run_agent(KERAS3_SEQUENCE.replace("validation_steps=800", "validation_steps=2"),
                    params={"STEPS": 3})  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert [(a["argument"], a["to"]) for a in run.of("adjusted")] == []


KERAS2_FOUR_TRAITS = """
import numpy as np
from keras.models import Sequential, load_model
from keras.layers import Dense, Flatten
from keras.preprocessing.image import ImageDataGenerator

steps = int(input("Enter steps_per_epoch: "))
rng = np.random.default_rng(0)
x = rng.random((96, 8, 8, 3)).astype("float32")
y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("float32")
model = Sequential([Flatten(input_shape=(8, 8, 3)), Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
train = ImageDataGenerator().flow(x, y, batch_size=16)
val = ImageDataGenerator().flow(x[:40], y[:40], batch_size=16)
model.fit_generator(train, steps_per_epoch=steps, epochs=3, validation_data=val,
                    validation_steps=800, verbose=2)
load_model("never-saved.h5")
print("final accuracy", 99)
"""


@pytest.mark.slow
def test_keras2_fit_generator_clamps_steps_and_a_later_crash_is_after_training(
    staged_agent: Path, tmp_path: Path
) -> None:
    python = os.environ.get("TRAINCHAIN_KERAS2_PYTHON", "")
    require(
        bool(python) and os.access(python, os.X_OK),
        "no Keras 2 interpreter: set TRAINCHAIN_KERAS2_PYTHON to a python with "
        "tensorflow-cpu==2.15.1",
    )
    (tmp_path / "train.py").write_text(KERAS2_FOUR_TRAITS)
    env = agent_env(staged_agent, tmp_path, {"steps_per_epoch": FULL_PASS_STEPS})
    proc = subprocess.run([python, "-m", "trainchain.agent", "train.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    events = read_events(tmp_path / "events.jsonl")
    data = [e for e in events if e["type"] == "data"]
    assert [(d["train_batches"], d["val_batches"], d["train_samples"], d["batch_size"])
            for d in data] == [(6, 3, 96, 16)]  # fmt: skip
    adjusted = [(e["argument"], e["from"], e["to"]) for e in events if e["type"] == "adjusted"]
    assert adjusted == [("steps_per_epoch", FULL_PASS_STEPS, 6), ("validation_steps", 800, 3)]
    epochs = [e for e in events if e["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert all("val_accuracy" in e["metrics"] for e in epochs)  # none ran out of data
    end = events[-1]
    assert end["type"] == "end" and end["after_training"] is True
    assert (end["exception"]["file"], end["exception"]["line"]) == ("train.py", 17)
    model = [e for e in events if e["type"] == "model"][-1]
    assert Path(model["path"]).exists()
    assert "final accuracy" not in proc.stdout
