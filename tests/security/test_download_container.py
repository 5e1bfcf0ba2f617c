"""The download container (docs/security.md, "Dataset prefetch"): the one container trainchain
starts with network, for Docker trials' library downloads, runs trainchain's replay of the
detected call only, never the user's script, and holds nothing of the user's but the dataset
cache it fills."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trainchain.agent import fetch_replay
from trainchain.dataset_replay import REPLAY_MODULE, replay_command, replay_spec


@pytest.mark.parametrize(
    "call",
    [
        "runpy.run_path",
        "builtins.exec",
        "os.system",
        "sklearn.datasets.load_files",
        "torchvision.datasets.utils.download_url",
        "sklearn.datasets.fetch_x;import os",
    ],
)
def test_the_replay_module_calls_only_a_librarys_dataset_downloader(call: str) -> None:
    with pytest.raises(ValueError, match="not a dataset download trainchain replays"):
        fetch_replay.replay({"call": call, "args": ["train.py"], "kwargs": {}})


def test_the_download_container_runs_our_replay_and_holds_nothing_of_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("docker")
    from trainchain.runtimes import docker_prefetch
    from trainchain.runtimes.docker_container import AGENT_DIR, CODE, DATASETS

    monkeypatch.setenv("TRAINCHAIN_DATASETS_MIRROR", "http://mirror.internal:8080")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not for the download container")
    item = {
        "library": "sklearn",
        "call": "sklearn.datasets.fetch_covtype",
        "replay": {"args": [], "kwargs": {}},
    }
    spec = replay_spec(item, "/trainchain/datasets")
    assert spec is not None
    command = replay_command(spec)
    args = docker_prefetch.create_args("trainchain/sklearn:x", command, tmp_path, "1000:1000")
    assert [*args["entrypoint"], *args["command"]] == command
    assert args["entrypoint"] == ["python"] and args["command"][:2] == ["-m", REPLAY_MODULE]
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in args["mounts"]}
    assert set(mounts) == {AGENT_DIR, DATASETS}  # no working copy, no data, no socket
    assert mounts[DATASETS] == (str(tmp_path), False) and mounts[AGENT_DIR][1] is True
    assert CODE not in json.dumps(args) and args["working_dir"] == "/tmp"
    assert args["cap_drop"] == ["ALL"] and args["security_opt"] == ["no-new-privileges"]
    assert args["user"] == "1000:1000" and not args["privileged"]
    environment = args["environment"]
    assert environment["TRAINCHAIN_DATASETS_MIRROR"] == "http://mirror.internal:8080"
    assert environment["SCIKIT_LEARN_DATA"] == f"{DATASETS}/sklearn"
    assert "AWS_SECRET_ACCESS_KEY" not in environment
    assert "trainchain.run" not in args["labels"]  # no trial's: the monitor leaves it alone


def test_the_replay_module_never_imports_the_script_of_its_working_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "train.py").write_text("open('ran', 'w').write('the script ran')\n")
    spec = {"call": "runpy.run_path", "args": ["train.py"], "kwargs": {}}
    proc = subprocess.run(
        [sys.executable, "-m", REPLAY_MODULE, json.dumps(spec)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "not a dataset download" in proc.stderr
    assert not (tmp_path / "ran").exists()
