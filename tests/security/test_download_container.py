"""The download container (docs/security.md, "Dataset prefetch"): the one container trainchain
starts with network, for Docker trials' library downloads, runs trainchain's replay of the
detected call only, never the user's script, and holds nothing of the user's but the dataset
cache it fills."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.contract.helpers import build_options, docker_client

from trainchain.agent import fetch_replay
from trainchain.dataset_replay import REPLAY_MODULE, replay_command, replay_spec

# A controller that dies mid-replay: its replay (a long download, here a sleep) keeps running.
CONTROLLER = """
import sys
from pathlib import Path
from trainchain.runtimes.base import Environment
from trainchain.runtimes.docker import DockerRuntime
image, cache, run_id = sys.argv[1:]
env = Environment("docker", "k", image=image)
DockerRuntime().replay_download(env, ["sleep", "600"], Path(cache), run_id)
"""


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
    args = docker_prefetch.create_args(
        "trainchain/sklearn:x", command, tmp_path, "1000:1000", "run-7"
    )
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
    # its run's label (a resumed run's replay removes what a dead controller left), no trial's
    assert args["labels"] == {"trainchain.prefetch": "1", "trainchain.run": "run-7"}


def _download_containers(client: Any, cache: Path) -> list[Any]:
    """The download containers whose writable mount is ``cache`` (this test's, none else)."""
    found = client.containers.list(all=True, filters={"label": "trainchain.prefetch"})
    return [c for c in found if any(m["Source"] == str(cache) for m in c.attrs["Mounts"])]


@pytest.mark.docker
def test_a_download_container_left_by_a_dead_controller_is_removed_when_its_run_replays(
    tmp_path: Path,
) -> None:
    from trainchain.runtimes import docker_prefetch
    from trainchain.runtimes.base import Environment
    from trainchain.runtimes.docker import DockerRuntime

    base = build_options().resolved_base()  # skips locally, fails in CI, without the engine
    run_id, other_run = f"replay-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    cache, other_cache = tmp_path / "cache", tmp_path / "other-cache"
    other_cache.mkdir()
    with docker_client() as client:
        controller = subprocess.Popen(
            [sys.executable, "-c", CONTROLLER, base, str(cache), run_id],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 120
            while controller.poll() is None and not [
                c for c in _download_containers(client, cache) if c.status == "running"
            ]:
                assert time.monotonic() < deadline, "the replay's container never appeared"
                time.sleep(0.2)
            assert controller.poll() is None, controller.communicate()[1].decode()
            controller.kill()  # mid-replay: nothing removes its container now
            controller.wait()
            (left,) = _download_containers(client, cache)
            assert left.status == "running" and left.labels["trainchain.run"] == run_id
            # another run's download container, for a run whose controller lives on
            other = client.containers.create(
                **docker_prefetch.create_args(
                    base, ["sleep", "600"], other_cache, "65534:65534", other_run
                )
            )
            other.start()
            runtime = DockerRuntime(client)
            assert runtime.find_trial_containers(run_id) == []  # a download is no trial
            env = Environment("docker", "k", image=base)
            # the run resumed: its replay runs again, first removing the one left behind
            assert runtime.replay_download(env, ["true"], cache, run_id) == (0, "")
            assert _download_containers(client, cache) == []
            (still,) = _download_containers(client, other_cache)  # not this run's to remove
            assert still.status == "running"
            still.kill()  # a download that ends abnormally is not a trial that did
            still.wait(timeout=60)
            assert not [line for line in runtime.abnormal_ends() if still.name in line]
        finally:
            if controller.poll() is None:
                controller.kill()
            controller.communicate()
            for container in [
                *_download_containers(client, cache),
                *_download_containers(client, other_cache),
            ]:
                container.remove(force=True, v=True)


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
