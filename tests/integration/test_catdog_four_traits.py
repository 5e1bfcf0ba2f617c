"""The four traits of the seed's own repository together, end to end and unattended (issue 15).

tests/repos/catdog_four_traits/cnn.py (Keras 2 APIs, prompts without defaults,
``flow_from_directory`` on ``cnn_dataset/`` inside the repository, ``validation_steps=800``,
``load_model`` of a never-saved file after ``fit_generator``, ``final accuracy N`` printed last)
with a few hundred real cat/dog JPEGs copied into a repository built in tmp_path, run with a
plain ``trainchain run REPO`` (no --param, no --data; one trial to stay near two minutes).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from tests.cli import run_json, trainchain
from tests.services import require_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SCRIPT = Path(__file__).resolve().parents[1] / "repos" / "catdog_four_traits" / "cnn.py"
PER_CLASS = {"training_set": 120, "test_set": 40}  # 240 training, 80 validation images
CRASH_LINE = next(
    n for n, line in enumerate(SCRIPT.read_text().splitlines(), 1) if "load_model(" in line
)


def build_repo(root: Path, catdog: Path) -> Path:
    root.mkdir()
    shutil.copyfile(SCRIPT, root / "cnn.py")
    for split, count in PER_CLASS.items():
        for label in ("cats", "dogs"):
            target = root / "cnn_dataset" / split / label
            target.mkdir(parents=True)
            for image in sorted((catdog / split / label).glob("*.jpg"))[:count]:
                shutil.copyfile(image, target / image.name)
    return root


def test_the_four_traits_run_unattended_with_the_crash_as_a_warning(tmp_path: Path) -> None:
    repo = build_repo(tmp_path / "catdog", require_shared_data("catdog"))
    proc, report = run_json(str(repo), "--no-tune", timeout=1500)
    assert proc.returncode in (0, 3), proc.stderr[-3000:] + json.dumps(report)[:3000]
    assert report["profile"] == "keras-legacy"
    trial = report["trials"][0]
    assert trial["state"] == "complete", trial.get("error")
    assert [a["outcome"] for a in trial["attempts"]] == ["succeeded_with_error"]
    assert f"at cnn.py:{CRASH_LINE}: OSError" in trial["warning"], trial["warning"]
    val_batches = math.ceil(2 * PER_CLASS["test_set"] / 32)
    adjusted = {a["argument"]: (a["from"], a["to"]) for a in trial["adjusted"]}
    assert adjusted["validation_steps"] == (800, val_batches)
    steps = trial["params"]["steps_per_epoch"]
    train_batches = math.ceil(2 * PER_CLASS["training_set"] / 32)
    if steps > train_batches:  # a full pass asked for: clamped like validation_steps
        assert adjusted["steps_per_epoch"] == (steps, train_batches)
    epochs = trial["epochs"]
    assert 1 <= len(epochs) <= trial["params"]["no_of_epoch"]
    if len(epochs) < trial["params"]["no_of_epoch"]:  # only an early stop ends fit() sooner
        assert trial["early_stop"], trial
    assert all("val_accuracy" in e["metrics"] for e in epochs)  # no epoch ran out of data
    assert report["metric"]["name"] == "val_accuracy" and trial["metric_source"] == "keras_epoch"
    assert trial["value"] == max(e["metrics"]["val_accuracy"] for e in epochs)  # the best epoch
    assert report["model"]["path"].endswith(".h5") and Path(report["model"]["path"]).exists()
    shown = " ".join(trainchain("runs", "show", report["run_id"]).stdout.split())
    assert (
        f"warning (trial 0): the script failed after training finished at cnn.py:{CRASH_LINE}"
        in shown
    )
