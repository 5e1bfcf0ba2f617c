"""A value far from useful, passed to a known framework argument, is tuned in the argument's
useful band (not a band around itself): the run reaches a target the old range could not."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tests.cli import trainchain, write_project

pytestmark = pytest.mark.slow

TINY_C = """\
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

C = 1e-8
x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
model = LogisticRegression(C=C, max_iter=1000).fit(x_train, y_train)
print(f"test_accuracy: {model.score(x_test, y_test):.4f}")
"""


def _score(c: float) -> float:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    return float(LogisticRegression(C=c, max_iter=1000).fit(x_train, y_train).score(x_test, y_test))


def test_tiny_regularisation_strength_is_tuned_in_the_useful_band(tmp_path: Path) -> None:
    assert _score(1e-6) < 0.93  # the top of the old band 1e-10..1e-6 around the default
    proj = write_project(
        tmp_path / "tiny-c", {"train.py": TINY_C, "requirements.txt": "scikit-learn\n"}
    )
    proc = trainchain("run", str(proj), "--target", "0.93", "--max-trials", "6", "--seed", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = " ".join((proc.stdout + proc.stderr).split())  # the console wraps long lines
    assert "search space: C 0.0001 .. 100 (log) — sklearn.LogisticRegression.C" in out, out
    assert "low 0.0001 the argument's limit" in out and "the default 1e-08 lies outside" in out
    run_id = re.search(r"run (\w+) — `trainchain resume", out)
    assert run_id, out
    shown = trainchain("runs", "show", run_id.group(1), "--json")
    report = json.loads(shown.stdout)
    assert report["baseline"]["value"] < 0.5 <= 0.93 <= report["best"]["value"]
    assert 1e-4 <= report["best"]["params"]["C"] <= 100
