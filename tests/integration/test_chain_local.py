"""The whole chain on this machine, training for real in created virtualenvs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli import run_json, trainchain, write_project
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.slow

SKLEARN_CONSTANTS = """\
import time
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

C = 0.0001
MAX_ITER = 50
PAUSE = 0.0

x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
model = LogisticRegression(C=C, max_iter=MAX_ITER).fit(x_train, y_train)
time.sleep(PAUSE)
print(f"test_accuracy: {model.score(x_test, y_test):.4f}")
"""


def test_digits_cnn_is_tuned_over_the_target(tmp_path: Path) -> None:
    proc, report = run_json(str(EXAMPLES / "digits-cnn"), "--max-trials", "10", "--seed", "3")
    assert proc.returncode == 0, proc.stderr + json.dumps(report, indent=1)
    assert report["status"] == "succeeded" and report["profile"] == "keras"
    assert report["baseline"]["value"] < 0.80 <= report["best"]["value"]
    assert report["metric"]["name"] == "accuracy"
    assert report["trials"][0]["metric_source"] == "keras_evaluate"  # held-out test set
    assert report["model"]["aliases"] == ["champion"] and Path(report["model"]["path"]).exists()
    shown = json.loads(trainchain("models", "show", "digits-cnn@champion", "--json").stdout)
    assert (
        shown["version"] == report["model"]["version"] and shown["value"] == report["best"]["value"]
    )


def test_prompts_are_answered_and_inferred_values_are_reported() -> None:
    proc = trainchain(
        "run", str(EXAMPLES / "prompt-script"), "--no-tune", "--param", "no_of_epoch=2"
    )
    assert proc.returncode in (0, 3), proc.stderr
    assert "learning_rate has no default; using" in proc.stderr
    run_id = proc.stderr.split("run ", 1)[1].split()[0]
    report = json.loads(trainchain("runs", "show", run_id, "--json").stdout)
    trial = report["trials"][0]
    assert trial["params"]["no_of_epoch"] == 2 and "learning_rate" in trial["params"]
    assert len(trial["epochs"]) == 2 and trial["value"] is not None


def test_argparse_constants_and_notebook_sources(tmp_path: Path) -> None:
    argparse_script = SKLEARN_CONSTANTS.replace(
        "C = 0.0001\n",
        "import argparse\np = argparse.ArgumentParser()\n"
        "p.add_argument('--c', type=float, required=True)\nC = p.parse_args().c\n",
    )
    proj = write_project(
        tmp_path / "argp", {"train.py": argparse_script, "requirements.txt": "scikit-learn\n"}
    )
    proc, report = run_json(str(proj), "--no-tune", "--param", "c=1.0")
    assert proc.returncode == 0, proc.stderr + json.dumps(report)
    assert report["trials"][0]["params"]["c"] == 1.0 and report["best"]["value"] > 0.9

    proj = write_project(
        tmp_path / "const", {"train.py": SKLEARN_CONSTANTS, "requirements.txt": "scikit-learn\n"}
    )
    _, low = run_json(str(proj), "--no-tune")
    _, high = run_json(str(proj), "--no-tune", "--param", "C=1.0", "--param", "MAX_ITER=500")
    assert high["best"]["value"] > low["best"]["value"]  # the constant really changed

    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": part,
        }
        for part in ("%matplotlib inline\n!echo hi\n" + SKLEARN_CONSTANTS).split("\n\n")
    ]
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    proj = write_project(
        tmp_path / "nb",
        {"analysis.ipynb": json.dumps(notebook), "requirements.txt": "scikit-learn\n"},
    )
    proc, report = run_json(str(proj), "--no-tune", "--param", "C=1.0", "--param", "MAX_ITER=500")
    assert proc.returncode == 0, proc.stderr + json.dumps(report)
    assert report["best"]["value"] > 0.9


LATE_WRITES = """
import atexit, os, pathlib, time

out = pathlib.Path(os.environ.get("TRAINCHAIN_OUTPUT_DIR", "."))
notes = open(out / "notes.txt", "w")  # never closed: the interpreter's exit flushes it
notes.write("written, never closed")


def late():
    time.sleep(4)
    (out / "late.txt").write_text("the atexit handler ran")


atexit.register(late)
"""


def test_what_a_trial_writes_while_its_interpreter_exits_is_registered(tmp_path: Path) -> None:
    """The trial is recorded at its agent's ``end`` and the run goes on while the interpreter
    exits; promote waits for that exit (``Runtime.settle``). Without the wait the registry got
    an empty notes.txt and no late.txt."""
    script = SKLEARN_CONSTANTS.replace("C = 0.0001\n", "C = 1.0\n") + LATE_WRITES
    proj = write_project(
        tmp_path / "late", {"train.py": script, "requirements.txt": "scikit-learn\n"}
    )
    proc, report = run_json(str(proj), "--no-tune", "--target", "0.5")
    assert proc.returncode == 0, proc.stderr + json.dumps(report)
    version = Path(report["model"]["path"]).parent
    assert (version / "notes.txt").read_text() == "written, never closed"
    assert (version / "late.txt").read_text() == "the atexit handler ran"


def test_resume_after_kill_9_never_reruns_a_finished_trial(tmp_path: Path) -> None:
    slow = SKLEARN_CONSTANTS.replace("PAUSE = 0.0", "PAUSE = 3.0")
    proj = write_project(
        tmp_path / "slow", {"train.py": slow, "requirements.txt": "scikit-learn\n"}
    )
    args = [
        sys.executable,
        "-m",
        "trainchain",
        "run",
        str(proj),
        "--max-trials",
        "4",
        "--target",
        "0.999",
        "--seed",
        "0",
        "--quiet",
    ]
    controller = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )
    db = Path(os.environ["TRAINCHAIN_HOME"]) / "trainchain.db"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and controller.poll() is None:
        if db.exists() and _trial_count(db) >= 3:  # trials 0 and 1 done, 2 running
            break
        time.sleep(0.5)
    assert controller.poll() is None, "the run ended before it could be killed"
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    run_id = _only_run(db)
    finished_before = {n: attempts for n, state, attempts in _trials(db) if state != "running"}

    proc = trainchain("resume", run_id, "--json")
    assert proc.returncode == 3, proc.stderr  # target 0.999 is out of reach: budget spent
    report = json.loads(proc.stdout)
    assert [t["number"] for t in report["trials"]] == [0, 1, 2, 3]
    for trial in report["trials"]:
        if trial["number"] in finished_before:
            assert len(trial["attempts"]) == finished_before[trial["number"]]  # not run again
    interrupted = report["trials"][2]["attempts"]
    if len(interrupted) == 1:  # the orphan finished before the resume looked: its result is kept
        assert interrupted[0]["outcome"] == "succeeded"
        assert "result kept" in interrupted[0]["reason"]
    else:  # the resume stopped the orphan and trained the trial again from its checkpoint
        assert interrupted[0]["outcome"] == "lost" and interrupted[-1]["outcome"] == "succeeded"
    assert report["model"] is not None and report["status"] == "target_not_reached"


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return list(conn.execute(sql))
        except sqlite3.OperationalError:
            return []


def _trial_count(db: Path) -> int:
    return len(_query(db, "select id from tc_trials"))


def _only_run(db: Path) -> str:
    rows = _query(db, "select id from tc_runs")
    assert len(rows) == 1
    return str(rows[0][0])


def _trials(db: Path) -> list[tuple[int, str, int]]:
    rows = _query(
        db,
        "select t.number, t.state, count(a.id) from tc_trials t"
        " left join tc_attempts a on a.trial_id = t.id group by t.id",
    )
    return [(int(n), str(s), int(c)) for n, s, c in rows]  # type: ignore[call-overload]


def test_ctrl_c_leaves_no_training_behind_and_resume_finishes(tmp_path: Path) -> None:
    slow = SKLEARN_CONSTANTS.replace("PAUSE = 0.0", "PAUSE = 30.0")
    proj = write_project(
        tmp_path / "ctrlc", {"train.py": slow, "requirements.txt": "scikit-learn\n"}
    )
    args = [sys.executable, "-m", "trainchain", "run", str(proj), "--no-tune", "--quiet"]
    controller = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = Path(os.environ["TRAINCHAIN_HOME"]) / "trainchain.db"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (
        db.exists() and _query(db, "select id from tc_attempts")
    ):
        time.sleep(0.5)
    time.sleep(2)  # the attempt's process is up
    controller.send_signal(signal.SIGINT)
    assert controller.wait(60) == 130
    run_id = _only_run(db)
    leftovers = [p for p in Path("/proc").glob("[0-9]*") if _runs(p, run_id)]
    assert leftovers == [], "a training process outlived the interrupted controller"
    proc = trainchain("resume", run_id, "--json", "--quiet")
    report = json.loads(proc.stdout)
    assert report["trials"][0]["attempts"][0]["outcome"] == "stopped"
    assert report["trials"][0]["state"] == "complete"


def _runs(proc_dir: Path, run_id: str) -> bool:
    try:
        return f"TRAINCHAIN_RUN={run_id}".encode() in (proc_dir / "environ").read_bytes().split(
            b"\0"
        )
    except OSError:
        return False
