"""An overfitting baseline on real cat/dog images gets the regularised probe as its first
tuning trial (``tuning.diagnosis``), named in the run log with the evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli import trainchain, write_project
from tests.services import require_shared_data

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catdog-cnn" / "train.py"


def test_an_overfitting_cnn_is_regularised_first(tmp_path: Path) -> None:
    import optuna

    from trainchain import paths
    from trainchain.tuning.diagnosis import PROBE_ATTR

    data = require_shared_data("catdog")
    # the example on 300 images a class: by epoch 10 it has learned them (training accuracy
    # about 0.88) while its validation loss climbs from about 0.66 to 0.9
    script = EXAMPLE.read_text().replace(
        "MAX_IMAGES_PER_CLASS = None", "MAX_IMAGES_PER_CLASS = 300"
    )
    assert "MAX_IMAGES_PER_CLASS = 300" in script
    proj = write_project(
        tmp_path / "catdog",
        {
            "train.py": script,
            "trainchain.yaml": "target: 0.99\nmax_trials: 2\nseed: 0\n"
            "params:\n  no_of_epoch: {type: int, low: 2, high: 10}\n",
        },
    )
    proc = trainchain(
        "run", str(proj), "--data", f"cnn_dataset={data}", "--param", "no_of_epoch=10"
    )
    out = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    assert proc.returncode == 3, out[-3000:]
    assert "the baseline overfits (val_loss rose from" in out, out[-3000:]
    (summary,) = optuna.get_all_study_summaries(paths.db_url())
    shown = trainchain("runs", "show", summary.study_name.removeprefix("trainchain-"), "--json")
    report = json.loads(shown.stdout)
    probe = report["trials"][1]
    assert {k: probe["params"][k] for k in ("keras.augment", "keras.batchnorm")} == {
        "keras.augment": "flip",
        "keras.batchnorm": True,
    }, probe["params"]
    assert (
        probe["params"]["keras.dropout"] == 0.3 and probe["params"]["keras.extra_conv_blocks"] == 1
    )
    assert probe["params"]["keras.learning_rate"] == 0.001  # the rest is the baseline's point
    assert "Halving" not in (probe.get("warning") or ""), probe  # no rung stops a probe
    assert "regularised first: the baseline overfits (val_loss" in (probe["probe"] or ""), probe
    assert report["trials"][0]["probe"] is None
    table = trainchain("runs", "show", report["run_id"])
    assert "probe (trial 1): regularised first" in " ".join(table.stdout.split()), table.stdout
    study = optuna.load_study(study_name=f"trainchain-{report['run_id']}", storage=paths.db_url())
    marked = [t.number for t in study.trials if t.user_attrs.get(PROBE_ATTR)]
    assert marked == [1], marked  # the baseline is the study's trial 0
    assert "val_loss rose from" in study.trials[1].user_attrs[PROBE_ATTR]
