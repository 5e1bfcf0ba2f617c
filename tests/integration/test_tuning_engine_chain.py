"""The tuning engine on the real digits CNN (examples/digits-cnn's): a diverging trial is
stopped within a few epochs, the model registered is the best epoch's (evaluated from the
registry's file), and the budget's last trial continues the best one from its checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli import run_json, trainchain, write_project

pytestmark = pytest.mark.slow

# examples/digits-cnn's data and network, as a functional model: no architecture knobs, so
# the declared space below is the whole space and a grid sampler visits each value once.
DIGITS = """
import keras
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

EPOCHS = 3
LEARNING_RATE = 1e-4


def load_data():
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    x_train, x_rest, y_train, y_rest = train_test_split(
        x, digits.target, test_size=0.4, random_state=0, stratify=digits.target
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=0, stratify=y_rest
    )
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def main():
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_data()
    inputs = keras.Input(shape=(8, 8, 1))
    h = keras.layers.Conv2D(32, (3, 3), activation="relu", padding="same")(inputs)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D((2, 2))(h))
    h = keras.layers.Dense(64, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=EPOCHS, batch_size=32, validation_data=(x_val, y_val))
    print(f"test_accuracy: {model.evaluate(x_test, y_test, verbose=0)[1]:.4f}")


if __name__ == "__main__":
    main()
"""
FIXED_BATCH = "  keras.batch_size: {type: categorical, choices: [32]}\n"

# The registered file, evaluated on the script's own validation split.
EVALUATE = """
import sys
sys.path.insert(0, sys.argv[1])
import keras
from train import load_data
_, (x_val, y_val), _ = load_data()
model = keras.models.load_model(sys.argv[2])
print(model.evaluate(x_val, y_val, verbose=0, return_dict=True)["accuracy"])
"""


def test_diverging_trial_is_pruned_and_the_best_epoch_is_registered(tmp_path: Path) -> None:
    proj = write_project(
        tmp_path / "digits",
        {
            "train.py": DIGITS,
            "requirements.txt": "scikit-learn\n",
            # LEARNING_RATE 5 diverges; 0.02 learns. EPOCHS is the resource: pinned to 40,
            # so early stop (patience 10) ends the good trial and the guard the bad one.
            "trainchain.yaml": "target: 0.999\nmax_trials: 3\nseed: 3\nsampler: grid\n"
            "params:\n  LEARNING_RATE: {type: categorical, choices: [5.0, 0.02]}\n"
            "  EPOCHS: {type: int, low: 2, high: 40}\n" + FIXED_BATCH,
        },
    )
    proc, report = run_json(str(proj))
    assert proc.returncode == 3, proc.stderr + json.dumps(report, indent=1)[:3000]
    trials = {t["params"].get("LEARNING_RATE"): t for t in report["trials"] if t["number"]}
    bad, good = trials[5.0], trials[0.02]
    assert bad["state"] == "pruned", bad
    assert "chance level" in bad["error"] or "diverged" in bad["error"], bad["error"]
    assert len(bad["epochs"]) <= 4  # of the 40 it was given
    assert good["state"] == "complete" and good["params"]["EPOCHS"] == 40
    best = good["best_epoch"]
    assert best["metric"] == "val_accuracy"
    curve = [e["metrics"]["val_accuracy"] for e in good["epochs"]]
    assert best["value"] == pytest.approx(max(curve)) and curve[best["epoch"] - 1] == max(curve)
    if good["early_stop"]:  # fit ended on its plateau: patience 10 after the best epoch
        assert good["early_stop"]["epoch"] == best["epoch"] + 10 == len(curve)
    assert report["best"]["trial"] == good["number"]
    shown = trainchain("runs", "show", report["run_id"], env={"COLUMNS": "250"})
    assert "best epoch" in shown.stdout and f"{best['value']:.4f}" in shown.stdout, shown.stdout
    registered = Path(report["model"]["path"])
    assert registered.name == "model.keras" and registered.is_file(), report["model"]
    # the registered model scores the best epoch's val_accuracy, not the last epoch's
    assert _evaluate(proj, registered) == pytest.approx(best["value"], abs=1e-4)
    if curve[-1] != max(curve):
        assert abs(curve[-1] - best["value"]) > 1e-4


def test_the_last_trial_continues_the_best_from_its_checkpoint(tmp_path: Path) -> None:
    """A slow learning rate still improves at epoch 6 (the pinned top): the budget's last
    trial trains it on to 12 epochs from its weights, not from epoch 1."""
    proj = write_project(
        tmp_path / "digits",
        {
            "train.py": DIGITS,
            "requirements.txt": "scikit-learn\n",
            "trainchain.yaml": "target: 0.999\nmax_trials: 3\nseed: 3\nsampler: grid\n"
            "params:\n  LEARNING_RATE: {type: categorical, choices: [0.0003]}\n"
            "  EPOCHS: {type: int, low: 2, high: 6}\n" + FIXED_BATCH,
        },
    )
    proc, report = run_json(str(proj))
    assert proc.returncode == 3, proc.stderr + json.dumps(report, indent=1)[:3000]
    first, extended = report["trials"][1], report["trials"][2]
    curve = [e["metrics"]["val_accuracy"] for e in first["epochs"]]
    assert first["params"]["EPOCHS"] == 6 and first["best_epoch"]["epoch"] == 6, curve
    assert extended["params"] == {**first["params"], "EPOCHS": 12}
    numbers = [e["epoch"] for e in extended["epochs"]]
    assert numbers == list(range(7, 7 + len(numbers))) and numbers[-1] <= 12, numbers
    if extended["early_stop"] is None:  # else it plateaued: stopped by patience (3 of 12)
        assert numbers[-1] == 12
    assert extended["attempts"][0]["resumed_from"] == 6
    # it went on from trial 1's weights: its first new epoch is not a fresh start's
    assert extended["epochs"][0]["metrics"]["val_accuracy"] >= curve[-1] - 0.05


# examples/digits-cnn's Sequential network: the architecture knobs apply, keras.augment too
# until the baseline shows 8x8 inputs.
DIGITS_SEQUENTIAL = DIGITS.replace(
    """    inputs = keras.Input(shape=(8, 8, 1))
    h = keras.layers.Conv2D(32, (3, 3), activation="relu", padding="same")(inputs)
    h = keras.layers.Flatten()(keras.layers.MaxPooling2D((2, 2))(h))
    h = keras.layers.Dense(64, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))
""",
    """    model = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu", padding="same"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
""",
)


def test_the_baseline_is_a_complete_point_and_augment_leaves_8x8_inputs(tmp_path: Path) -> None:
    import optuna

    from trainchain import paths

    assert "Sequential" in DIGITS_SEQUENTIAL
    proj = write_project(
        tmp_path / "digits",
        {
            "train.py": DIGITS_SEQUENTIAL,
            "requirements.txt": "scikit-learn\n",
            "trainchain.yaml": "target: 0.999\nmax_trials: 3\nseed: 4\n"
            "params:\n  EPOCHS: {type: int, low: 2, high: 4}\n",
        },
    )
    proc = trainchain("run", str(proj))
    out = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    assert proc.returncode == 3, out[-3000:]
    assert "keras.augment is not searched: the model's input images are 8x8" in out, out
    (summary,) = optuna.get_all_study_summaries(paths.db_url())
    shown = trainchain("runs", "show", summary.study_name.removeprefix("trainchain-"), "--json")
    report = json.loads(shown.stdout)
    tuned = [t for t in report["trials"] if t["number"] > 0]
    assert tuned and all("keras.augment" not in t["params"] for t in tuned), tuned
    assert all("keras.batchnorm" in t["params"] for t in tuned)  # the other knobs stay
    study = optuna.load_study(study_name=f"trainchain-{report['run_id']}", storage=paths.db_url())
    first = study.trials[0]
    assert first.state == optuna.trial.TrialState.COMPLETE
    assert first.value == pytest.approx(report["baseline"]["value"])
    assert set(first.params) == set(study.trials[1].distributions)  # every dimension
    assert first.params["keras.optimizer"] == "adam" and first.params["LEARNING_RATE"] == 1e-4
    # every tuned trial started warm: its interpreter imported Keras while the one before
    # trained (trial 1's while the baseline did, a stage earlier)
    trials_dir = paths.run_dir(report["run_id"]) / "trials"
    for trial in tuned:
        events = trials_dir / f"{trial['number']:03d}" / "events-1.jsonl"
        warm = [json.loads(line) for line in events.read_text().splitlines() if '"warm"' in line]
        assert [e["imported"] for e in warm] == [["numpy", "keras"]], trial["number"]


# DIGITS paced: each epoch takes a second at least, so a short tuning budget ends mid-trial
DIGITS_PACED = DIGITS.replace(
    "import keras\n",
    "import time\n\nimport keras\n\n\nclass Pace(keras.callbacks.Callback):\n"
    "    def on_epoch_begin(self, epoch, logs=None):\n        time.sleep(1.0)\n",
    1,
).replace("validation_data=(x_val, y_val))", "validation_data=(x_val, y_val), callbacks=[Pace()])")


def test_the_tuning_budget_stops_a_running_trial_which_keeps_its_best_epoch(
    tmp_path: Path,
) -> None:
    """--timeout 25: trial 1 (60 epochs of a second or more) is stopped at the deadline, not
    after its epochs; it completes with its best epoch so far, which is registered."""
    assert "callbacks=[Pace()]" in DIGITS_PACED
    proj = write_project(
        tmp_path / "digits",
        {
            "train.py": DIGITS_PACED,
            "requirements.txt": "scikit-learn\n",
            "trainchain.yaml": "target: 0.999\nmax_trials: 4\nseed: 3\nsampler: grid\n"
            "timeout: 25\n"
            "params:\n  LEARNING_RATE: {type: categorical, choices: [0.01]}\n"
            "  EPOCHS: {type: int, low: 2, high: 60}\n" + FIXED_BATCH,
        },
    )
    proc, report = run_json(str(proj))
    assert proc.returncode == 3, proc.stderr + json.dumps(report, indent=1)[:3000]
    assert [t["number"] for t in report["trials"]] == [0, 1]  # the budget ended the search
    stopped = report["trials"][1]
    epochs = [e["epoch"] for e in stopped["epochs"]]
    assert stopped["state"] == "complete", stopped
    assert stopped["params"]["EPOCHS"] == 60 and 1 <= len(epochs) < 60, epochs
    assert stopped["early_stop"] is None  # not ended by a plateau or the target
    why = stopped["warning"] or ""
    assert f"stopped at the tuning budget (--timeout 25s) after epoch {epochs[-1]}" in why, why
    best = stopped["best_epoch"]
    curve = [e["metrics"]["val_accuracy"] for e in stopped["epochs"]]
    assert best["value"] == pytest.approx(max(curve)) and stopped["value"] == best["value"]
    assert report["best"]["trial"] == 1 and report["best"]["value"] == best["value"]
    registered = Path(report["model"]["path"])
    # the registered model is the stopped trial's best epoch, not the weights it was stopped at
    assert _evaluate(proj, registered) == pytest.approx(best["value"], abs=1e-4)


def _evaluate(project: Path, model: Path) -> float:
    """The registered model's val_accuracy on the project's validation split (EVALUATE)."""
    out = subprocess.run(
        [sys.executable, "-c", EVALUATE, str(project), str(model)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return float(out.stdout.strip().splitlines()[-1])
