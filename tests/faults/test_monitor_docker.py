"""`trainchain revive` with Docker: a trial container that outlived its killed controller is
stopped and its run resumed; a labelled container dying abnormally is seen in the engine's
events at once."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.cli import write_project
from tests.contract.helpers import build_options, docker_client
from tests.faults.test_controller_death import _query, _running_trial
from trainchain.cli.revive import revive
from trainchain.runtimes.docker import DockerRuntime
from trainchain.runtimes.docker_container import LABEL_RUN

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

SCRIPT = """\
import time

from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

x, y = load_digits(return_X_y=True)
model = LogisticRegression(C=0.01, max_iter=200).fit(x[:1200], y[:1200])
time.sleep(10)  # room for the kill (inline: not a tunable constant)
print(f"test_accuracy: {model.score(x[1200:], y[1200:]):.4f}")
"""


def test_die_events_of_trainchain_containers_reach_the_reviver(trainchain_home: Path) -> None:
    base = build_options().resolved_base()
    run_id = f"events-{uuid.uuid4().hex[:8]}"
    with docker_client() as client:
        runtime = DockerRuntime(client)
        died: queue.Queue[str] = queue.Queue()
        stop = threading.Event()
        follower = threading.Thread(
            target=runtime.follow_deaths, args=(died.put, stop), daemon=True
        )
        follower.start()
        time.sleep(1.0)  # subscribed before the container starts
        container = client.containers.run(
            base,
            ["sh", "-c", "exit 3"],
            detach=True,
            labels={LABEL_RUN: run_id},
            network_mode="none",
        )
        try:
            assert died.get(timeout=60) == run_id
        finally:
            stop.set()
            container.remove(force=True)


@pytest.mark.slow
def test_revive_stops_the_orphaned_container_and_resumes_the_run(
    tmp_path: Path, trainchain_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # skips (or fails in CI) without an engine and the base image; the run builds on that base
    monkeypatch.setenv("TRAINCHAIN_BASE_IMAGE", build_options().resolved_base())
    proj = write_project(tmp_path / "proj", {
        "train.py": SCRIPT, "requirements.txt": "scikit-learn\n",
        "trainchain.yaml": "name: faults-docker\nruntime: docker\ntune: false\n",
    })  # fmt: skip
    db = trainchain_home / "trainchain.db"
    controller = subprocess.Popen(
        [sys.executable, "-m", "trainchain", "run", str(proj), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 900  # may build the image first
    while time.monotonic() < deadline and controller.poll() is None and _running_trial(db) != 0:
        time.sleep(0.5)
    assert controller.poll() is None, "the run ended before its controller could be killed"
    time.sleep(2.0)
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    (run_id,) = (row[0] for row in _query(db, "select id from tc_runs"))
    runtime = DockerRuntime()
    try:
        orphans = [c for c in runtime.find_trial_containers(run_id) if c.status == "running"]
        assert [c.attempt for c in orphans] == [1]  # it outlived its controller

        result = CliRunner().invoke(revive, ["--once", "--json", "--docker", "--grace", "1"])
        assert result.exit_code == 0, result.output
        outcome: dict[str, Any] = json.loads(result.stdout)
        assert [r["run_id"] for r in outcome["resumed"]] == [run_id], outcome
        status = _query(db, f"select status from tc_runs where id = '{run_id}'")[0][0]
        assert status in ("succeeded", "target_not_reached"), status
        outcomes = [r[0] for r in _query(db, "select outcome from tc_attempts order by id")]
        assert outcomes == ["lost", "succeeded"], outcomes
        left = [c for c in runtime.find_trial_containers(run_id) if c.status == "running"]
        assert left == [], left  # the orphan was stopped, never trained twice at once
    finally:
        for c in runtime.find_trial_containers(run_id):
            runtime.client.containers.get(c.id).remove(force=True)
        runtime.close()
