"""kill -9 of the controller (``trainchain run``) mid-trial and mid-tuning, then
``trainchain resume``: no finished trial runs again and the registry ends as an uninterrupted
run's with the same seed (issue 6)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli import trainchain, write_project
from tests.faults.record import record

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SCRIPT = """\
import os
import time

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

C = 0.0001
TOL = 0.0001

x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
model = LogisticRegression(C=C, tol=TOL, max_iter=100).fit(x_train, y_train)
time.sleep(float(os.environ.get("FAULTS_PAUSE", "0")))  # room for the kill, not a parameter
print(f"test_accuracy: {model.score(x_test, y_test):.4f}")
"""
CONFIG = """\
name: faults-sklearn
seed: 7
target: 0.999
max_trials: 4
sampler: tpe
params:
  C: {type: float, low: 0.0001, high: 10.0, log: true}
  TOL: {type: float, low: 0.00001, high: 0.1, log: true}
"""


def _project(root: Path) -> Path:
    return write_project(
        root, {"train.py": SCRIPT, "trainchain.yaml": CONFIG, "requirements.txt": "scikit-learn\n"}
    )


def _env(home: Path, pause: float) -> dict[str, str]:
    # trials get an allow-listed environment: the operator passes FAULTS_PAUSE by name
    return {
        **os.environ,
        "TRAINCHAIN_HOME": str(home),
        "FAULTS_PAUSE": str(pause),
        "TRAINCHAIN_TRIAL_ENV": "FAULTS_PAUSE",
    }


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return list(conn.execute(sql))
    except sqlite3.OperationalError:
        return []  # not created yet


def _running_trial(db: Path) -> int | None:
    rows = _query(
        db,
        "select t.number from tc_trials t join tc_attempts a on a.trial_id = t.id "
        "where a.outcome = 'running'",
    )
    return int(rows[0][0]) if rows else None


def _registry(home: Path) -> dict[str, Any]:
    shown = trainchain(
        "models", "show", "faults-sklearn@champion", "--json", env={"TRAINCHAIN_HOME": str(home)}
    )
    assert shown.returncode == 0, shown.stderr
    version = json.loads(shown.stdout)
    return {k: version[k] for k in ("version", "aliases", "params", "value", "trial", "metric")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same project and seed, never interrupted."""
    root = tmp_path_factory.mktemp("reference")
    proj, home = _project(root / "proj"), root / "home"
    proc = trainchain("run", str(proj), "--json", env=_env(home, 0.0))
    assert proc.returncode == 3, proc.stderr
    report = json.loads(proc.stdout)
    return {"registry": _registry(home), "params": [t["params"] for t in report["trials"]]}


@pytest.mark.parametrize(("when", "trial"), [("mid-trial", 0), ("mid-tuning", 2)])
def test_resume_after_the_controller_is_killed(
    tmp_path: Path, reference: dict[str, Any], when: str, trial: int
) -> None:
    proj, home = _project(tmp_path / "proj"), tmp_path / "home"
    db = home / "trainchain.db"
    controller = subprocess.Popen(
        [sys.executable, "-m", "trainchain", "run", str(proj), "--quiet"],
        env=_env(home, 4.0),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and controller.poll() is None and _running_trial(db) != trial:
        time.sleep(0.2)
    assert controller.poll() is None, f"the run ended before trial {trial} could be interrupted"
    time.sleep(1.0)  # inside the trial's training, not at its start
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    killed_at = time.time()
    (run_id,) = (row[0] for row in _query(db, "select id from tc_runs"))
    finished = dict(
        _query(
            db,
            "select t.number, count(a.id) from tc_trials t join tc_attempts a "
            "on a.trial_id = t.id where t.state != 'running' group by t.id",
        )
    )

    proc = trainchain("resume", run_id, "--json", env=_env(home, 0.0))
    assert proc.returncode == 3, proc.stderr  # budget spent below the unreachable target
    report = json.loads(proc.stdout)
    by_number = {t["number"]: t for t in report["trials"]}
    for number, attempts in finished.items():  # never trained again
        assert len(by_number[number]["attempts"]) == attempts, by_number[number]
    interrupted = by_number[trial]["attempts"]
    assert interrupted[0]["outcome"] == "lost" and interrupted[-1]["outcome"] == "succeeded"
    assert [t["params"] for t in report["trials"]] == reference["params"]
    registry = _registry(home)
    record(
        "controller_death",
        when,
        runtime="local",
        ok=registry == reference["registry"],
        resumed_after=time.time() - killed_at,
        trials=len(report["trials"]),
    )
    assert registry == reference["registry"]
