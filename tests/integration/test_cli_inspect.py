"""runs list/show/logs and models list/show/promote/download on a real (small) run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli import run_json, trainchain, write_project
from tests.conftest import EXAMPLES
from tests.integration.test_chain_local import SKLEARN_CONSTANTS
from tests.services import require_shared_data

pytestmark = pytest.mark.slow


def test_inspecting_runs_and_models(tmp_path: Path) -> None:
    proj = write_project(
        tmp_path / "digits-lr",
        {"train.py": SKLEARN_CONSTANTS, "requirements.txt": "scikit-learn\n"},
    )
    _, first = run_json(str(proj), "--no-tune", "--param", "C=1.0", "--param", "MAX_ITER=400")
    _, second = run_json(str(proj), "--no-tune")  # worse: registered, not champion
    assert first["model"]["aliases"] == ["champion"] and second["model"]["aliases"] == []

    listed = json.loads(trainchain("runs", "list", "--json").stdout)
    assert [r["run_id"] for r in listed] == [second["run_id"], first["run_id"]]
    shown = trainchain("runs", "show", first["run_id"])
    assert shown.returncode == 0 and "succeeded" in shown.stdout and "C=1.0" in shown.stdout
    logs = trainchain("runs", "logs", first["run_id"], "--trial", "0")
    assert "test_accuracy:" in logs.stdout and "trial 0 attempt-1" in logs.stdout
    missing = trainchain("runs", "logs", first["run_id"], "--trial", "7")
    assert missing.returncode == 2 and "has no trial 7" in missing.stderr

    models = trainchain("models", "list")
    assert "digits-lr" in models.stdout and "v1" in models.stdout
    assert json.loads(trainchain("models", "show", "digits-lr:2", "--json").stdout)["version"] == 2
    assert trainchain("models", "promote", "digits-lr", "2").returncode == 0
    assert (
        json.loads(trainchain("models", "show", "digits-lr@champion", "--json").stdout)["version"]
        == 2
    )
    out = tmp_path / "dl"
    got = trainchain("models", "download", "digits-lr", "--out", str(out))
    assert got.returncode == 0 and (Path(got.stdout.strip()) / "model.joblib").exists()
    bad = trainchain("models", "show", "digits-lr@staging")
    assert bad.returncode == 2 and "no alias 'staging'" in bad.stderr


def test_catdog_cnn_reads_data_through_data_and_answers_its_prompt() -> None:
    catdog = require_shared_data("catdog")
    proc, report = run_json(
        str(EXAMPLES / "catdog-cnn"),
        "--data",
        f"cnn_dataset={catdog}",
        "--no-tune",
        "--param",
        "no_of_epoch=1",
        "--param",
        "MAX_IMAGES_PER_CLASS=150",
    )
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:3000]
    trial = report["trials"][0]
    assert trial["state"] == "complete" and len(trial["epochs"]) == 1
    assert trial["params"]["no_of_epoch"] == 1 and 0.0 <= trial["value"] <= 1.0
