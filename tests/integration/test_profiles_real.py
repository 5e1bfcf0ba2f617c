"""One project per profile goes through its real environment: it imports and trains.

keras, sklearn and generic are covered by the chain and tuning tests; these two build the
heavier environments (PyTorch CPU; TensorFlow 2.15 with Keras 2 for legacy scripts).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cli import run_json
from tests.conftest import EXAMPLES
from tests.services import require, require_shared_data

pytestmark = pytest.mark.slow


def require_torch_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the local CPU wheel pip would fetch a multi-GB CUDA build of torch."""
    wheels = [Path(w) for w in os.environ.get("PIP_FIND_LINKS", "").split()]
    if not any(any(w.glob("torch-2.13.0*cpu*.whl")) for w in wheels if w.is_dir()):
        local = Path("/opt/wheels")  # where this machine kind keeps it
        found = local.is_dir() and any(local.glob("torch-2.13.0*cpu*.whl"))
        require(found, "no torch 2.13.0 CPU wheel in PIP_FIND_LINKS or /opt/wheels")
        monkeypatch.setenv("PIP_FIND_LINKS", " ".join([*map(str, wheels), str(local)]).strip())


def test_pytorch_argparse_example_trains_in_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_torch_wheel(monkeypatch)
    proc, report = run_json(
        str(EXAMPLES / "pytorch-mlp"), "--no-tune", "--param", "epochs=2", "--param", "lr=0.01"
    )
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:2000]
    assert report["profile"] == "pytorch"
    trial = report["trials"][0]
    assert trial["state"] == "complete" and trial["params"] == {"epochs": 2, "lr": 0.01}
    assert trial["metric_source"] == "stdout" and 0.0 < trial["value"] <= 1.0


def test_keras2_legacy_script_trains_in_the_legacy_environment() -> None:
    catdog = require_shared_data("catdog")
    proc, report = run_json(
        str(EXAMPLES / "legacy-keras2"),
        "--no-tune",
        "--data",
        f"cnn_dataset={catdog}",
        "--param",
        "STEPS_PER_EPOCH=4",
        "--param",
        "VALIDATION_STEPS=2",
        "--param",
        "EPOCHS=2",
    )
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:3000]
    assert report["profile"] == "keras-legacy"
    trial = report["trials"][0]
    assert trial["state"] == "complete" and [e["epoch"] for e in trial["epochs"]] == [1, 2]
    assert report["model"]["path"].endswith(".h5")
