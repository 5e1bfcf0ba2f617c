"""Bad input ends with a clear message and the right exit code; the run is recorded."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from tests.cli import run_json, trainchain, write_project

SCRIPT = """\
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

C = 0.5
x, y = load_digits(return_X_y=True)
model = LogisticRegression(C=C, max_iter=200).fit(x[:1200], y[:1200])
{body}
"""


def sk_project(tmp_path: Path, body: str, extra: dict[str, str] | None = None) -> Path:
    files = {
        "train.py": SCRIPT.format(body=body),
        "requirements.txt": "scikit-learn\n",
        **(extra or {}),
    }
    return write_project(tmp_path / "proj", files)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback (most recent call last)" not in proc.stderr, proc.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    proc = trainchain("run", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr
    no_traceback(proc)


def test_bad_ref_and_unreachable_url(tmp_path: Path) -> None:
    repo = sk_project(tmp_path, "print('accuracy: 0.9')")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"],
        check=True,
    )
    proc = trainchain("run", str(repo), "--ref", "no-such-branch")
    assert proc.returncode == 2 and "ref 'no-such-branch' not found" in proc.stderr
    proc = trainchain("run", "https://127.0.0.1:9/team/model.git")
    assert proc.returncode == 2 and "cannot clone" in proc.stderr
    no_traceback(proc)


def test_invalid_config_names_the_line(tmp_path: Path) -> None:
    repo = sk_project(
        tmp_path, "print('accuracy: 0.9')", {"trainchain.yaml": "target: 0.9\nmax_trails: 3\n"}
    )
    proc = trainchain("run", str(repo))
    assert proc.returncode == 2
    assert (
        "trainchain.yaml:2" in proc.stderr
        and "max_trails" in proc.stderr
        and "max_trials" in proc.stderr
    )
    no_traceback(proc)


@pytest.mark.slow
def test_script_errors_are_reported_with_their_place(tmp_path: Path) -> None:
    syntax = write_project(
        tmp_path / "syntax",
        {
            "train.py": "from sklearn.linear_model import LogisticRegression\n"
            "LogisticRegression().fit(\n",
            "requirements.txt": "scikit-learn\n",
        },
    )
    proc = trainchain("run", str(syntax))
    assert proc.returncode in (1, 2) and "train.py:2" in proc.stderr, proc.stderr
    no_traceback(proc)

    crash = sk_project(
        tmp_path / "c", "print('loading...')\nraise SystemExit('the data folder is empty')"
    )
    proc, report = run_json(str(crash), "--no-tune")
    assert proc.returncode == 1 and report["status"] == "failed"
    assert "the data folder is empty" in report["error"] and report["failed_stage"] == "train"
    shown = json.loads(trainchain("runs", "show", report["run_id"], "--json").stdout)
    assert shown["trials"][0]["state"] == "failed"  # recorded, with its attempts
    assert len(shown["trials"][0]["attempts"]) == 2  # retried once, then stopped as a crash loop


@pytest.mark.slow
def test_no_metric_found_quotes_the_output_and_patterns(tmp_path: Path) -> None:
    repo = sk_project(tmp_path, "print('done training, no numbers here')")
    proc, report = run_json(str(repo), "--no-tune")
    assert proc.returncode == 1
    assert "found no metric" in report["error"]
    assert (
        "done training, no numbers here" in report["error"] and "accuracy: 0.81" in report["error"]
    )


@pytest.mark.slow
def test_trial_timeout(tmp_path: Path) -> None:
    repo = sk_project(tmp_path, "import time\ntime.sleep(60)\nprint('accuracy: 0.9')")
    proc, report = run_json(str(repo), "--no-tune", "--trial-timeout", "3")
    assert proc.returncode == 1
    assert "trial timeout of 3s" in report["error"]
    assert report["trials"][0]["attempts"][0]["outcome"] == "timeout"


def test_param_matching_nothing_is_a_usage_error_before_training(tmp_path: Path) -> None:
    repo = write_project(
        tmp_path / "prompts",
        {
            "train.py": "from sklearn.datasets import load_digits\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "no_of_epoch = int(input('Enter no_of_epoch:'))\n"
            "x, y = load_digits(return_X_y=True)\n"
            "LogisticRegression(max_iter=no_of_epoch).fit(x, y)\n",
            "trainchain.yaml": "params:\n  max_itr: 3\n",
        },
    )
    proc = trainchain("run", str(repo), "--param", "no_of_epochs=5", "--param", "epoch=4")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "--param no_of_epochs=5 matches no parameter of train.py" in out
    assert "did you mean no_of_epoch?" in out
    assert "params: max_itr: 3 in trainchain.yaml" in out
    assert "epoch=4" not in out  # a name inside the prompt answers it, as the agent matches
    home = Path(os.environ["TRAINCHAIN_HOME"])
    assert not list(home.glob("runs/*/trials")), "nothing may train"
    no_traceback(proc)
