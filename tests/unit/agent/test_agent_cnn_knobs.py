"""CNN knobs on an unmodified Sequential model: augmentation layers in front, BatchNormalization
after convolutions, optimizer choice; on Keras 3 and on the Keras 2 legacy interpreter.

Tiny models on random images, one epoch: each run is the TensorFlow import plus a second.
"""

from __future__ import annotations

import os
import sys

import pytest
from tests.services import require

from conftest import RunAgent

pytest.importorskip("keras")
pytestmark = pytest.mark.timeout(300)

# Keras 2 (TF 2.15) and Keras 3 both read this script; it reloads the model the agent saved.
SMALL_CNN = """
import os
import numpy as np
import keras
from keras import layers

rng = np.random.default_rng(0)
x = rng.random((32, 32, 32, 3)).astype("float32")
y = rng.integers(0, 2, 32)
model = keras.Sequential([
    keras.Input(shape=(32, 32, 3)),
    layers.Rescaling(1.0),
    layers.Conv2D(8, (3, 3), activation="relu"),
    layers.MaxPooling2D((2, 2)),
    layers.Conv2D(8, (3, 3), activation="relu"),
    layers.BatchNormalization(),
    layers.Flatten(),
    layers.Dense(8, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
])
conv = model.layers[1]
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003, clipnorm=1.0),
              loss="binary_crossentropy", metrics=["accuracy"])
history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
print("loss", history.history["loss"][0])
print("script's layer objects kept", any(layer is conv for layer in model.layers))
opt = model.optimizer
print("optimizer", type(opt).__name__, round(float(opt.learning_rate), 6),
      getattr(opt, "momentum", None), opt.get_config().get("clipnorm"))
first = model.predict(x[:4], verbose=0)
print("inference is deterministic", bool(np.allclose(first, model.predict(x[:4], verbose=0))))
out = os.environ["TRAINCHAIN_OUTPUT_DIR"]
saved = keras.models.load_model(os.path.join(out, sorted(os.listdir(out))[0]))
print("saved layers", ",".join(type(layer).__name__ for layer in saved.layers))
print("saved predicts alike", bool(np.allclose(first, saved.predict(x[:4], verbose=0), atol=1e-5)))
"""

KNOBS = {"keras.augment": "flip_rotate_zoom", "keras.batchnorm": True, "keras.optimizer": "sgd"}


def _keras2_python() -> str:
    python = os.environ.get("TRAINCHAIN_KERAS2_PYTHON", "")
    require(
        bool(python) and os.access(python, os.X_OK),
        "no Keras 2 interpreter: set TRAINCHAIN_KERAS2_PYTHON to a python with "
        "tensorflow-cpu==2.15.1 (scripts/setup.sh test creates /opt/trainchain-keras2)",
    )
    return python


@pytest.mark.parametrize("keras_major", [3, 2])
def test_augment_batchnorm_and_optimizer_reach_the_model_and_the_saved_file(
    run_agent: RunAgent, keras_major: int
) -> None:
    python = sys.executable if keras_major == 3 else _keras2_python()
    run = run_agent(SMALL_CNN, params=KNOBS, python=python, timeout=240)
    assert run.returncode == 0, run.stderr
    (arch,) = run.of("architecture")
    assert arch["applied"] is True and arch["knobs"] == KNOBS
    # Flip, rotation and zoom in front of the script's first layer; a BatchNormalization after
    # the first Conv2D only: the second is already followed by the script's own.
    layers = (
        "RandomFlip,RandomRotation,RandomZoom,Rescaling,Conv2D,BatchNormalization,"
        "MaxPooling2D,Conv2D,BatchNormalization,Flatten,Dense,Dense"
    )
    assert f"saved layers {layers}\n" in run.stdout  # the registered file holds them
    # 8 filters: gamma, beta, moving mean and variance of the added BatchNormalization
    assert arch["after"]["params"] - arch["before"]["params"] == 4 * 8
    assert arch["after"]["layers"] - arch["before"]["layers"] == 4
    # SGD with momentum 0.9 at the script's Adam rate in SGD's scale (x10), clipping kept
    assert "optimizer SGD 0.03 0.9 1.0\n" in run.stdout
    swapped = "Adam -> SGD (momentum 0.9), learning rate 0.003 -> 0.03"
    assert any(swapped in n for n in arch["notes"])
    assert "inference is deterministic True" in run.stdout  # augmentation off at predict
    # only shape-preserving layers were inserted: the script's layers (and weights) stay
    assert "script's layer objects kept True" in run.stdout
    assert "saved predicts alike True" in run.stdout
    assert {n: v for n, (v, how) in run.params().items() if how == "keras"} == KNOBS
    assert run.end["status"] == "ok"
    # what the tuner reads from a baseline: the compiled optimizer and the input's shape
    (optimizer,) = run.of("optimizer")
    assert optimizer == {**optimizer, "name": "sgd", "learning_rate": pytest.approx(0.03)}
    (shape,) = run.of("input")
    assert shape["shape"] == [None, 32, 32, 3] and shape["call"] == 1


MLP = """
import numpy as np
import keras

rng = np.random.default_rng(0)
x = rng.random((32, 6)).astype("float32")
y = rng.integers(0, 2, 32)
model = keras.Sequential([keras.Input(shape=(6,)), keras.layers.Dense(4, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="rmsprop", loss="binary_crossentropy")
model.fit(x, y, epochs=1, verbose=0)
print("layers", [type(layer).__name__ for layer in model.layers], type(model.optimizer).__name__)
tiny = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(2, 3),
                         keras.layers.Flatten(), keras.layers.Dense(1)])
tiny.compile(optimizer="rmsprop", loss="mse")
print("tiny", [type(layer).__name__ for layer in tiny.layers])
"""


def test_image_knobs_say_why_they_do_not_apply_to_tables_and_thumbnails(
    run_agent: RunAgent,
) -> None:
    params = {"keras.augment": "flip", "keras.batchnorm": True, "keras.optimizer": "rmsprop"}
    run = run_agent(MLP, params=params)
    assert run.returncode == 0, run.stderr
    assert "layers ['Dense', 'Dense'] RMSprop" in run.stdout
    arch, tiny = run.of("architecture")
    notes = " | ".join(arch["notes"])
    assert "keras.augment applies to image inputs" in notes and "(None, 6)" in notes
    assert "keras.batchnorm changed nothing" in notes
    assert "the script's RMSprop kept (already rmsprop)" in notes
    assert arch["before"] == arch["after"]
    # an 8x8 image gets BatchNormalization but no flips or turns (they would change a digit)
    assert "tiny ['Conv2D', 'BatchNormalization', 'Flatten', 'Dense']" in run.stdout
    assert any("images of 8x8 pixels are below 32x32" in n for n in tiny["notes"])
    # only what reached a model is recorded as applied
    assert set(run.params()) == {"keras.batchnorm", "keras.optimizer"}


def test_default_valued_knobs_leave_the_layers_and_their_weights_alone(
    run_agent: RunAgent,
) -> None:
    script = """
    import numpy as np
    import keras

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(2)])
    before = model.layers[0].kernel
    model.compile(optimizer="adam", loss="mse")
    print("same layer object", model.layers[0].kernel is before)
    """
    params = {"keras.width": 1.0, "keras.augment": "none", "keras.batchnorm": False}
    run = run_agent(script, params=params)
    assert run.returncode == 0, run.stderr
    assert "same layer object True" in run.stdout  # not rebuilt: trained weights would survive
    (arch,) = run.of("architecture")
    assert arch["before"] == arch["after"] and arch["knobs"] == params


SWAPS = """
import keras

for optimizer in (keras.optimizers.SGD(learning_rate=0.05), keras.optimizers.Adam(0.002)):
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    rate = round(float(model.optimizer.learning_rate), 6)
    print("compiled", type(model.optimizer).__name__, rate)
"""


@pytest.mark.parametrize(
    ("choice", "compiled"),
    [
        # from SGD the rate comes down by Keras' defaults' ratio; between Adam-family kept
        ("adam", ["compiled Adam 0.005", "compiled Adam 0.002"]),
        ("rmsprop", ["compiled RMSprop 0.005", "compiled RMSprop 0.002"]),
        ("sgd", ["compiled SGD 0.05", "compiled SGD 0.02"]),
    ],
)
def test_a_swapped_optimizer_gets_the_rate_in_its_own_scale(
    run_agent: RunAgent, choice: str, compiled: list[str]
) -> None:
    run = run_agent(SWAPS, params={"keras.optimizer": choice})
    assert run.returncode == 0, run.stderr
    assert [line for line in run.stdout.splitlines() if line.startswith("compiled")] == compiled
    assert [o["learning_rate"] for o in run.of("optimizer")] == [
        pytest.approx(float(line.split()[-1])) for line in compiled
    ]
