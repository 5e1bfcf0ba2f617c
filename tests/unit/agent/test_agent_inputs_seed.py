"""The agent's side of issue 16: paths of the author's machine served from the repository,
a missing input reported as such, and seeded trials whose resumed attempts rebuild the same
(randomly drawn) model, or start afresh, said, when the checkpoint is of another model."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from tests.services import require

from conftest import RunAgent

pytestmark = pytest.mark.timeout(1200)

READS_AUTHOR_PATHS = """
import os
import pathlib
import sys

sys.stdin = open("/nonexistent-author-home/input.txt")
epochs = int(input())
print("epochs", epochs)
print("exists", os.path.exists("/nonexistent-author-home/input.txt"),
      os.path.isdir("/nonexistent-author-home/data"))
print("listed", sorted(os.listdir("/nonexistent-author-home/data")))
print("pathlib", pathlib.Path("/nonexistent-author-home/data/a.csv").read_text().strip())
"""


def test_author_paths_are_served_from_the_mapped_files(run_agent: RunAgent, tmp_path: Path) -> None:
    data = tmp_path / "elsewhere"
    data.mkdir()
    (data / "a.csv").write_text("x,y\n")
    mapping = {
        "/nonexistent-author-home/input.txt": str(tmp_path / "project" / "input.txt"),
        "/nonexistent-author-home/data": str(data),
    }
    run = run_agent(
        READS_AUTHOR_PATHS,
        files={"input.txt": "7\n"},
        extra_env={"TRAINCHAIN_PATH_MAP": json.dumps(mapping)},
    )
    assert run.returncode == 0, run.stderr
    assert "epochs 7" in run.stdout
    assert "exists True True" in run.stdout and "listed ['a.csv']" in run.stdout
    assert "pathlib x,y" in run.stdout


def test_a_path_that_is_not_there_is_reported_as_a_missing_input(run_agent: RunAgent) -> None:
    run = run_agent("import os\nrows = open('cnn_dataset/training_set/labels.csv').read()\n")
    assert run.returncode == 1
    exc = run.end["exception"]
    assert exc["type"] == "FileNotFoundError" and exc["line"] == 2
    assert exc["missing_input"] == "cnn_dataset/training_set/labels.csv"
    # a write into a directory that does not exist is an output's problem, not an input
    run = run_agent("import os\nopen('/nonexistent-final/accuracy.txt', 'w').write('0.8')\n")
    assert run.end["exception"]["type"] == "FileNotFoundError"
    assert "missing_input" not in run.end["exception"]


SEEDED = """
import random
import numpy as np

print("draw", random.randint(0, 10**9), int(np.random.randint(0, 10**9)))
"""


def test_a_seed_makes_random_and_numpy_repeat(run_agent: RunAgent) -> None:
    runs = [run_agent(SEEDED, extra_env={"TRAINCHAIN_SEED": seed}) for seed in ("7", "7", "8")]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    draws = [next(line for line in r.stdout.splitlines() if line.startswith("draw")) for r in runs]
    assert draws[0] == draws[1] != draws[2]
    assert runs[0].of("seed") == [{"type": "seed", "seed": 7, **_extra(runs[0].of("seed")[0])}]


def _extra(event: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in event.items() if k not in ("type", "seed")}


UNITS = [4, 8, 16, 32, 64, 128]
RANDOM_ARCHITECTURE = """
import os
import random

import numpy as np
from tensorflow import keras

units = random.choice(UNITS_LIST)  # a new architecture on every run, as some scripts do
print("units", units)


class CrashOnce(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1 and not os.path.exists("crashed"):
            open("crashed", "w").close()
            raise RuntimeError("the machine went away after epoch 2")


rng = np.random.default_rng(0)  # the same data in every attempt
x = rng.random((512, 64)).astype("float32")
y = (x[:, :10].argmax(axis=1)).astype("int64")
model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(units, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=4, batch_size=128, validation_split=0.2, verbose=2,
          callbacks=[CrashOnce()])
""".replace("UNITS_LIST", repr(UNITS))


def _keras2_python() -> str:
    python = os.environ.get("TRAINCHAIN_KERAS2_PYTHON", "")
    require(
        bool(python) and os.access(python, os.X_OK),
        "no Keras 2 interpreter: set TRAINCHAIN_KERAS2_PYTHON (see test_agent_edge_cases)",
    )
    return python


@pytest.mark.parametrize("keras_version", [3, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("same_seed", [True, False], ids=["same-seed", "other-model"])
def test_a_resumed_attempt_rebuilds_the_model_or_starts_afresh(
    run_agent: RunAgent, same_seed: bool, keras_version: int
) -> None:
    if keras_version == 3:
        pytest.importorskip("keras")
        python = {}
    else:  # tf_keras restores through tf.train.Checkpoint: its own failure modes
        python = {"python": _keras2_python()}
    first_seed = 3
    other = next(
        s
        for s in range(4, 100)
        if random.Random(s).choice(UNITS) != random.Random(first_seed).choice(UNITS)
    )
    crashed = run_agent(
        RANDOM_ARCHITECTURE, extra_env={"TRAINCHAIN_SEED": str(first_seed)}, timeout=600, **python
    )
    assert crashed.returncode == 1 and "went away" in crashed.end["exception"]["message"], (
        crashed.stderr[-2000:]
    )
    assert max(e["epoch"] for e in crashed.of("checkpoint")) == 2  # backed up, then crashed
    seed = first_seed if same_seed else other
    resumed = run_agent(
        RANDOM_ARCHITECTURE, extra_env={"TRAINCHAIN_SEED": str(seed)}, timeout=600, **python
    )
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.end["status"] == "ok"
    units = [
        line for line in (crashed.stdout + resumed.stdout).splitlines() if line.startswith("units")
    ]
    checkpoints = resumed.of("checkpoint")
    if same_seed:  # the same draw: the same model, resumed where it stopped
        assert units[0] == units[1]
        assert resumed.of("fit")[0]["initial_epoch"] == 2
        assert [e["epoch"] for e in resumed.of("epoch")] == [3, 4]
        assert checkpoints[0].get("restored") is True
    else:  # another model: the checkpoint cannot apply; this attempt starts afresh, said
        assert units[0] != units[1]
        assert [e["epoch"] for e in resumed.of("epoch")] == [1, 2, 3, 4]
        assert checkpoints[0]["fallback"] == "clean_start"
        assert "model mismatch" in checkpoints[0]["error"]
