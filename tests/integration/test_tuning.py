"""job4 for real: the target reached by tuning, pruning, warm start, architecture, parallel."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from tests.cli import run_json, write_project
from tests.conftest import EXAMPLES
from tests.integration.test_chain_local import SKLEARN_CONSTANTS
from tests.integration.test_profiles_real import require_torch_wheel

pytestmark = pytest.mark.slow

CURVE = """\
import time
from trainchain.agent import log_metric

EPOCHS = 6
QUALITY = 0.5
for epoch in range(1, EPOCHS + 1):
    log_metric("val_accuracy", QUALITY * epoch / EPOCHS, step=epoch)
    time.sleep(0.4)
print(f"val_accuracy: {QUALITY:.4f}")
"""


def test_digits_cnn_from_weak_defaults_to_090_with_architecture_knobs() -> None:
    proc, report = run_json(
        str(EXAMPLES / "digits-cnn"), "--target", "0.9", "--max-trials", "14", "--seed", "5"
    )
    assert proc.returncode == 0, proc.stderr + json.dumps(report, indent=1)[:3000]
    assert report["baseline"]["value"] < 0.80 and report["best"]["value"] >= 0.90
    tuned = [t for t in report["trials"] if t["number"] > 0 and t["architecture"]]
    assert tuned, "the tuner never turned an architecture knob"
    changed = [
        t
        for t in tuned
        if t["architecture"]["after"]["params"] != t["architecture"]["before"]["params"]
    ]
    assert changed, "architecture knobs left the parameter count unchanged"


def test_pruning_stops_bad_trials_early(tmp_path: Path) -> None:
    proj = write_project(
        tmp_path / "curve",
        {
            "train.py": CURVE,
            "requirements.txt": "",
            "trainchain.yaml": "entrypoint: train.py\ntarget: 2.0\nmax_trials: 9\nseed: 1\n"
            "sampler: random\n"
            "params:\n  QUALITY: {type: float, low: 0.05, high: 0.95}\n  EPOCHS: 6\n",
        },
    )
    proc, report = run_json(str(proj))
    assert proc.returncode == 3, proc.stderr + json.dumps(report)[:2000]
    pruned = [t for t in report["trials"] if t["state"] == "pruned"]
    assert pruned, [(t["state"], t["params"]) for t in report["trials"]]
    for trial in pruned:  # stopped before its last epoch (EPOCHS: pinned to its top, 24)
        assert len({e["epoch"] for e in trial["epochs"]}) < trial["params"]["EPOCHS"]
        assert "SuccessiveHalvingPruner" in trial["error"], trial["error"]


def test_warm_start_tries_the_previous_best_first(tmp_path: Path) -> None:
    proj = write_project(
        tmp_path / "proj",
        {
            "train.py": SKLEARN_CONSTANTS,
            "requirements.txt": "scikit-learn\n",
            "trainchain.yaml": "target: 0.999\nmax_trials: 4\nseed: 2\n"
            "params:\n  C: {type: float, low: 0.001, high: 10.0, log: true}\n",
        },
    )
    _, first = run_json(str(proj))
    _, second = run_json(str(proj), "--seed", "9")
    assert first["best"]["trial"] > 0, "the baseline was best; nothing to warm-start from"
    best = {k: v for k, v in first["best"]["params"].items()}
    assert second["trials"][1]["params"] == best


def test_parallel_trials_overlap(tmp_path: Path) -> None:
    slow = SKLEARN_CONSTANTS.replace("PAUSE = 0.0", "PAUSE = 4.0")
    proj = write_project(tmp_path / "par", {"train.py": slow, "requirements.txt": "scikit-learn\n"})
    proc, report = run_json(
        str(proj), "--parallel", "2", "--max-trials", "5", "--target", "0.999", "--seed", "4"
    )
    assert proc.returncode == 3, proc.stderr
    spans = [
        (
            dt.datetime.fromisoformat(t["attempts"][0]["started_at"].rstrip("Z")),
            dt.datetime.fromisoformat(t["attempts"][0]["ended_at"].rstrip("Z")),
        )
        for t in report["trials"][1:]
    ]
    assert len(spans) == 4
    overlaps = sum(
        1 for i, a in enumerate(spans) for b in spans[i + 1 :] if a[0] < b[1] and b[0] < a[1]
    )
    assert overlaps >= 1, spans


def test_sklearn_constants_and_pytorch_argparse_examples_are_tuned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proc, forest = run_json(str(EXAMPLES / "sklearn-digits"), "--max-trials", "6", "--seed", "0")
    assert proc.returncode == 0, proc.stderr + json.dumps(forest)[:2000]
    assert forest["baseline"]["value"] < 0.8 <= forest["best"]["value"]
    assert set(forest["best"]["params"]) & {"N_ESTIMATORS", "MAX_DEPTH"}

    require_torch_wheel(monkeypatch)
    proc, mlp = run_json(
        str(EXAMPLES / "pytorch-mlp"), "--max-trials", "5", "--seed", "1", "--target", "0.6"
    )
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(mlp)[:2000]
    assert mlp["best"]["value"] > mlp["baseline"]["value"]
    assert {"epochs", "lr"} <= set(mlp["best"]["params"])  # argparse options, tuned
