"""Docker trials have no network, so a dataset downloaded by library code (scikit-learn's
``fetch_openml`` here, whose URLs live inside scikit-learn) is fetched before the baseline by
one download container of the trial's image that replays the detected call with network, into
the machine's dataset cache; the trials then read it offline (issue 16)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests import openml_site
from tests.cli import run_json, write_project
from tests.contract.helpers import build_options, docker_client
from tests.dataset_server import Served, serve

MARK = "written-by-the-script"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

TRAIN = f"""
import os
from sklearn.datasets import fetch_openml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

C = 1.0
try:  # the trials read the cache read-only: this script must never run where it is writable
    with open(os.path.join(os.environ["SCIKIT_LEARN_DATA"], "{MARK}"), "w") as mark:
        mark.write("the user's script ran with the cache writable")
except OSError:
    pass

x, y = fetch_openml(data_id={openml_site.DATA_ID}, as_frame=False, parser="liac-arff",
                    return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
model = LogisticRegression(C=C).fit(x_train, y_train)
print(f"accuracy: {{model.score(x_test, y_test):.4f}}")
"""


def _bridge_gateway() -> str:
    """The host's address on Docker's default bridge: what the download container reaches."""
    with docker_client() as client:
        return str(client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"])


def _run(
    tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Served]:
    options = build_options()  # skips locally, fails in CI, without an engine or base image
    repo = write_project(tmp_path / "repo", {"train.py": TRAIN})
    monkeypatch.setenv("TRAINCHAIN_DATASETS_DIR", str(tmp_path / "datasets"))
    env = {"TRAINCHAIN_BASE_IMAGE": options.base_image}
    with serve(mirror, host=_bridge_gateway()) as http:
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        proc, report = run_json(
            str(repo), "--no-tune", "--runtime", "docker", env=env, timeout=2400
        )
    return proc, report, http


@pytest.mark.docker
def test_a_library_download_is_replayed_once_and_docker_trials_read_it_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    openml_site.write(mirror)
    proc, report, http = _run(tmp_path, mirror, monkeypatch)
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:3000]
    # one request per file, from the download container: the trial (no network) read the cache
    assert {p: http.requests[p] for p in openml_site.PATHS} == dict.fromkeys(
        openml_site.PATHS, 1
    ), http.requests
    assert sum(http.requests.values()) == len(openml_site.PATHS)
    cached = tmp_path / "datasets" / "sklearn" / "openml" / "openml.org"
    data = f"data/v1/download/{openml_site.FILE_ID}/tiny-bands.arff.gz"
    assert (cached / data).is_file()
    # the download container ran our replay, never the script (which would have left its mark)
    assert not list((tmp_path / "datasets").rglob(MARK))
    trial = report["trials"][0]
    assert trial["state"] == "complete", trial
    assert trial["value"] > 0.8  # the bands are learnable: it trained on the served rows


def test_local_trials_read_a_library_download_from_the_operators_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local trials are online: the first one downloads, through the agent's hook, from the
    mirror (this machine has no route to openml.org), into the machine's cache."""
    mirror = tmp_path / "mirror"
    openml_site.write(mirror)
    repo = write_project(tmp_path / "repo", {"train.py": TRAIN})
    monkeypatch.setenv("TRAINCHAIN_DATASETS_DIR", str(tmp_path / "datasets"))
    with serve(mirror) as http:
        monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", http.url)
        proc, report = run_json(str(repo), "--no-tune", timeout=1200)
    assert proc.returncode in (0, 3), proc.stderr + json.dumps(report)[:3000]
    assert dict(http.requests) == dict.fromkeys(openml_site.PATHS, 1)
    cached = tmp_path / "datasets" / "sklearn" / "openml" / "openml.org"
    assert (cached / f"data/v1/download/{openml_site.FILE_ID}/tiny-bands.arff.gz").is_file()
    assert report["trials"][0]["value"] > 0.8


@pytest.mark.docker
def test_a_library_download_that_fails_stops_a_docker_run_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "empty").mkdir()  # a mirror without the dataset
    proc, report, http = _run(tmp_path, tmp_path / "empty", monkeypatch)
    assert proc.returncode == 2, proc.stderr + json.dumps(report)[:3000]
    error = report["error"]
    assert "sklearn.datasets.fetch_openml (train.py:14)" in error, error
    assert f"downloads 'fetch_openml:data_id={openml_site.DATA_ID}'" in error, error
    assert str(tmp_path / "datasets" / "sklearn") in error and "nothing was trained" in error
    assert "HTTP Error 404" in error and "--runtime local" in error, error
    assert report["trials"] == [] and "Traceback" not in proc.stderr
    assert http.requests[openml_site.PATHS[0]] >= 1  # the replay asked the mirror
