"""Real-world script traits (issue 15), run by the whole chain: the fixtures in tests/repos/.

- crash_after_fit: the script fails after fit(); the trial completes with a warning naming
  file and line, training's metric and the agent's model, and no restart;
- validation_steps_past_data: validation_steps=800 over 13 validation batches is clamped to one
  pass, so every epoch has val_accuracy;
- steps_prompt_no_default: an unanswered steps_per_epoch prompt trains unattended;
- data_in_repo: data committed with the code is read by the trial.
Each runs on the local runtime; the first two in containers too (the ``keras`` profile image).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from tests.cli import run_json, trainchain
from tests.contract.helpers import build_options

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPOS = Path(__file__).resolve().parents[1] / "repos"
VAL_SAMPLES = 1797 - 1400  # the digits the fixtures hold out
TRAIN_BATCHES = math.ceil(1400 / 32)


def _run(case: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc, report = run_json(str(REPOS / case), "--no-tune", *args, env=env, timeout=1500)
    assert proc.returncode in (0, 3), proc.stderr[-3000:] + json.dumps(report)[:3000]
    trial = report["trials"][0]
    assert trial["state"] == "complete", trial
    return report


def check_crash_after_fit(report: dict[str, Any]) -> None:
    trial = report["trials"][0]
    assert [a["outcome"] for a in trial["attempts"]] == ["succeeded_with_error"]  # no restart
    assert "at train.py:18: ValueError" in trial["warning"], trial["warning"]
    assert trial["metric_source"] == "keras_epoch" and report["metric"]["name"] == "val_accuracy"
    assert [e["epoch"] for e in trial["epochs"]] == [1, 2, 3]
    assert report["model"] and Path(report["model"]["path"]).exists()
    shown = trainchain("runs", "show", report["run_id"])
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "succeeded_with_error" in text and "warning (trial 0)" in text, text
    assert "train.py:18" in text


def check_validation_steps(report: dict[str, Any]) -> None:
    trial = report["trials"][0]
    assert [(a["argument"], a["from"], a["to"]) for a in trial["adjusted"]] == [
        ("validation_steps", 800, math.ceil(VAL_SAMPLES / 32))
    ]
    assert "ran out of data" in trial["adjusted"][0]["why"]
    assert [e["epoch"] for e in trial["epochs"]] == [1, 2, 3]
    assert all("val_accuracy" in e["metrics"] for e in trial["epochs"])
    assert report["metric"]["name"] == "val_accuracy" and trial["warning"] is None


def test_crash_after_fit_and_clamped_validation_on_the_local_runtime() -> None:
    check_crash_after_fit(_run("crash_after_fit", "--runtime", "local"))
    check_validation_steps(_run("validation_steps_past_data", "--runtime", "local"))


def test_steps_prompt_without_default_and_data_in_the_repository_run_unattended() -> None:
    report = _run("steps_prompt_no_default", "--runtime", "local")
    trial = report["trials"][0]
    steps, epochs = trial["params"]["steps_per_epoch"], trial["params"]["no_of_epoch"]
    assert len(trial["epochs"]) == epochs
    clamped = [(a["argument"], a["to"]) for a in trial["adjusted"]]
    if steps >= TRAIN_BATCHES:  # one full pass asked for (FULL_PASS_STEPS) or more
        assert clamped == [("steps_per_epoch", TRAIN_BATCHES)], (steps, clamped)
    else:
        assert clamped == []
    data = _run("data_in_repo", "--runtime", "local")
    assert data["trials"][0]["value"] > 0.8  # 400 digits read from data/digits.csv
    assert data["profile"] == "sklearn"


@pytest.mark.docker
def test_crash_after_fit_and_clamped_validation_in_containers() -> None:
    options = build_options()  # the local base image and CA certificates; fails in CI without
    env = {"TRAINCHAIN_BASE_IMAGE": options.base_image}
    check_crash_after_fit(_run("crash_after_fit", "--runtime", "docker", env=env))
    check_validation_steps(_run("validation_steps_past_data", "--runtime", "docker", env=env))
