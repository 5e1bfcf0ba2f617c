"""The whole chain with every trial in a container: `trainchain run --runtime docker`."""

from __future__ import annotations

import json

import pytest
from tests.cli import run_json
from tests.conftest import EXAMPLES
from tests.contract.helpers import build_options

from trainchain.store import Store

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(2400)]


def test_digits_cnn_reaches_the_target_in_containers() -> None:
    options = build_options()  # the local base image and CA certificates; fails in CI without
    env = {"TRAINCHAIN_BASE_IMAGE": options.base_image}
    proc, report = run_json(
        str(EXAMPLES / "digits-cnn"),
        "--runtime",
        "docker",
        "--max-trials",
        "10",
        "--seed",
        "3",
        env=env,
        timeout=2400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:] + json.dumps(report)[:2000]
    assert report["status"] == "succeeded" and report["profile"] == "keras"
    assert report["baseline"]["value"] < 0.8 <= report["best"]["value"]
    run = Store().get_run(report["run_id"])
    assert run.environment["runtime"] == "docker" and run.environment["image"].startswith(
        "trainchain/"
    )
    for trial in Store().trials(run.id):  # every attempt ran as a container (ids, not pids)
        assert all(len(a.process_id or "") == 64 for a in trial.attempts)
    assert report["model"]["path"].endswith("model.keras")
