"""The six stages run one process each (as Jenkins job1..job6) give what `trainchain run` gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cli import run_json, trainchain, write_project
from tests.integration.test_chain_local import SKLEARN_CONSTANTS

pytestmark = pytest.mark.slow
STAGES = ("detect", "train", "tune", "promote", "monitor")


def test_six_processes_equal_one_run(tmp_path: Path) -> None:
    proj = write_project(
        tmp_path / "proj",
        {
            "train.py": SKLEARN_CONSTANTS,
            "requirements.txt": "scikit-learn\n",
            "trainchain.yaml": "max_trials: 3\ntarget: 0.999\nseed: 7\n",
        },
    )
    env = {"TRAINCHAIN_DB_URL": f"sqlite:///{tmp_path / 'jenkins.db'}"}
    fetch = trainchain("stage", "fetch", "--source", str(proj), env=env)
    assert fetch.returncode == 0, fetch.stderr
    run_id = fetch.stdout.strip()
    codes = {}
    for name in STAGES:
        proc = trainchain("stage", name, "--run", run_id, env=env)
        codes[name] = proc.returncode
        assert proc.returncode in (0, 3), f"{name}: {proc.stderr}"
    assert codes["tune"] == 3 and codes["promote"] == 3  # below target: Jenkins marks it unstable
    staged = json.loads(trainchain("runs", "show", run_id, "--json", env=env).stdout)

    proc, whole = run_json(str(proj), env={"TRAINCHAIN_DB_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    assert proc.returncode == 3
    assert staged["status"] == whole["status"] == "target_not_reached"
    assert [(t["params"], t["value"], t["state"]) for t in staged["trials"]] == [
        (t["params"], t["value"], t["state"]) for t in whole["trials"]
    ]
    assert staged["best"] == whole["best"]
    assert staged["stages"] == whole["stages"]


def test_a_stage_needs_its_run() -> None:
    proc = trainchain("stage", "train")
    assert proc.returncode == 2 and "--run RUN_ID" in proc.stderr
    proc = trainchain("stage", "train", "--run", "doesnotexist")
    assert proc.returncode == 2 and "no run 'doesnotexist'" in proc.stderr
    assert os.environ["TRAINCHAIN_HOME"]
