"""What only the Docker runtime does: the container's settings, labels, re-attach, lost
containers, a missing image or engine. The shared behaviour is in tests/contract."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.contract.helpers import build_options, trial_spec

from trainchain.errors import ConfigError, EnvironmentBuildError, RuntimeUnavailableError
from trainchain.runtimes.base import Environment, EnvSpec, Resources, TrialSpec
from trainchain.runtimes.docker import DockerRuntime
from trainchain.runtimes.docker_container import TRIAL_UID
from trainchain.runtimes.docker_process import DockerProcess, classify
from trainchain.states import OutcomeKind

SLOW = "import time\nfor i in range(600):\n    print('tick', i, flush=True)\n    time.sleep(0.2)\n"


def test_no_engine_names_the_socket_and_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/trainchain-no-such-docker.sock")
    with pytest.raises(RuntimeUnavailableError) as caught:
        DockerRuntime()
    assert "unix:///tmp/trainchain-no-such-docker.sock" in caught.value.message
    assert "--runtime local" in caught.value.message


@pytest.mark.parametrize(
    ("state", "forced", "kind", "signal"),
    [
        ({"ExitCode": 0}, None, OutcomeKind.SUCCEEDED, None),
        ({"ExitCode": 2}, None, OutcomeKind.FAILED, None),
        ({"ExitCode": 137, "OOMKilled": True}, None, OutcomeKind.OOM, None),
        ({"ExitCode": 137}, None, OutcomeKind.KILLED, 9),
        ({"ExitCode": 143}, None, OutcomeKind.KILLED, 15),
        ({"ExitCode": 137}, (OutcomeKind.TIMEOUT, "1h"), OutcomeKind.TIMEOUT, None),
        (
            {"ExitCode": 137, "OOMKilled": True},
            (OutcomeKind.STOPPED, "p"),
            OutcomeKind.STOPPED,
            None,
        ),
        ({"Lost": "the container was removed"}, None, OutcomeKind.LOST, None),
        ({"Lost": "removed"}, (OutcomeKind.STOPPED, "pruned"), OutcomeKind.STOPPED, None),
    ],
)
def test_classify_container_state(
    state: dict[str, object],
    forced: tuple[OutcomeKind, str] | None,
    kind: OutcomeKind,
    signal: int | None,
) -> None:
    outcome = classify(state, forced)
    assert outcome.kind is kind
    assert outcome.signal == signal


@pytest.fixture(scope="module")
def docker_env() -> Iterator[tuple[DockerRuntime, Environment]]:
    runtime = DockerRuntime(options=build_options())
    try:
        env = runtime.provision(EnvSpec(profile="generic", packages=()), lambda line: None)
        yield runtime, env
    finally:
        runtime.close()


def _spec(tmp_path: Path, code: str = SLOW, **overrides: object) -> TrialSpec:
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "train.py").write_text(code)
    run_id = f"docker-{uuid.uuid4().hex[:8]}"
    return trial_spec(tmp_path, workdir, run_id=run_id, trial=3, attempt=2, **overrides)


def _wait_for_log(spec: TrialSpec, text: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if spec.log_path.exists() and text in spec.log_path.read_text():
            return
        time.sleep(0.3)
    raise AssertionError(f"{text!r} never appeared in {spec.log_path}")


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_provision_reuses_the_image(docker_env: tuple[DockerRuntime, Environment]) -> None:
    runtime, env = docker_env
    again = runtime.provision(EnvSpec(profile="generic", packages=()), lambda line: None)
    assert (again.image, again.created) == (env.image, False)
    assert again.key == EnvSpec(profile="generic", packages=()).key()


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_container_settings_labels_and_find(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    data = tmp_path / "dataset"
    data.mkdir()
    spec = _spec(tmp_path, data={"data": data}, resources=Resources(memory="256m", cpus=0.5))
    proc = runtime.start(env, spec)
    try:
        _wait_for_log(spec, "tick 1")
        found = runtime.find_trial_containers(spec.run_id)
        assert [(c.trial, c.attempt, c.status) for c in found] == [(3, 2, "running")]
        assert found[0].id == proc.id
        assert any(c.run_id == spec.run_id for c in runtime.find_trial_containers())
        attrs = runtime.client.containers.get(proc.id).attrs
        host = attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["Memory"] == 256 * 2**20 and host["NanoCpus"] == 500_000_000
        uid = os.getuid() or TRIAL_UID  # never root in the container
        assert attrs["Config"]["User"] in (f"{uid}:{os.getgid()}", f"{uid}:{uid}")
        mounts = {m["Destination"]: m["RW"] for m in attrs["Mounts"]}
        assert mounts["/code/data"] is False and mounts["/opt/trainchain/agent"] is False
        assert mounts["/code"] and mounts["/output"] and mounts["/checkpoints"]
    finally:
        proc.kill(OutcomeKind.STOPPED, "test over")
    assert proc.wait(60) is not None
    assert runtime.find_trial_containers(spec.run_id) == []


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_reattach_after_the_controller_is_gone(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    spec = _spec(tmp_path)
    first = runtime.start(env, spec)
    _wait_for_log(spec, "tick 1")
    with contextlib.closing(DockerRuntime(options=runtime.options)) as other:
        (found,) = other.find_trial_containers(spec.run_id)
        attached = other.attach(found.id, spec.log_path)
        assert isinstance(attached, DockerProcess) and attached.poll() is None
        attached.stop("resumed elsewhere")
        outcome = attached.wait(60)
    assert outcome is not None and outcome.kind is OutcomeKind.STOPPED
    assert first.wait(60) is not None  # the first handle sees the end too


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_container_removed_behind_our_back_is_lost(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    spec = _spec(tmp_path)
    proc = runtime.start(env, spec)
    _wait_for_log(spec, "tick 1")
    runtime.client.containers.get(proc.id).remove(force=True)
    outcome = proc.wait(60)
    assert outcome is not None and outcome.kind is OutcomeKind.LOST, outcome


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_a_new_attempt_removes_the_containers_of_earlier_attempts(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    """Never two containers training one trial: starting attempt N removes what attempts < N
    left (one still running, one ended but never removed); other trials are not touched."""
    runtime, env = docker_env
    spec = _spec(tmp_path)  # trial 3, attempt 2
    earlier = runtime.start(env, spec)  # still running: its attempt was given up on
    # another trial of the same run: kept
    other = runtime.start(env, dataclasses.replace(spec, trial=4, log_path=tmp_path / "o.log"))
    ended = runtime.client.containers.run(  # an ended attempt the engine could not remove
        env.image,
        command=["true"],
        labels={"trainchain.run": spec.run_id, "trainchain.trial": "3", "trainchain.attempt": "1"},
        detach=True,
    )
    ended.wait()
    _wait_for_log(spec, "tick 1")
    later = runtime.start(env, dataclasses.replace(spec, attempt=3))
    try:
        found = {(c.trial, c.attempt) for c in runtime.find_trial_containers(spec.run_id)}
        assert found == {(3, 3), (4, 2)}, found
        outcome = earlier.wait(60)
        assert outcome is not None and outcome.kind is OutcomeKind.LOST, outcome
        assert other.poll() is None
    finally:
        for proc in (other, later):
            proc.kill(OutcomeKind.STOPPED, "test over")
            assert proc.wait(60) is not None


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_missing_image_is_an_error_not_a_pull(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    gone = Environment(runtime="docker", key=env.key, image="trainchain/generic:0000000000000000")
    with pytest.raises(EnvironmentBuildError, match="never pulls"):
        runtime.start(gone, _spec(tmp_path))


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_gpus_on_an_engine_without_the_nvidia_runtime_is_one_clear_error(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    if "nvidia" in (runtime.client.info().get("Runtimes") or {}):
        pytest.skip("this engine can give containers GPUs: nothing to refuse")
    spec = _spec(tmp_path, resources=Resources(cpus=1, gpus=1))
    with pytest.raises(ConfigError) as caught:  # not RuntimeUnavailableError: no waiting
        runtime.start(env, spec)
    message = caught.value.message
    assert f"trial 3 of run {spec.run_id} asks for 1 GPU(s) (resources.gpus: 1)" in message
    assert "could not select device driver" in message  # docker's own words, passed on
    assert "nvidia-container-toolkit" in message and "drop `gpus:`" in message
    assert runtime.find_trial_containers(spec.run_id) == []  # the refused container is gone


@pytest.mark.docker
@pytest.mark.timeout(600)
def test_reap_kills_only_the_runs_own_orphan(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    spec = _spec(tmp_path)
    proc = runtime.start(env, spec)
    _wait_for_log(spec, "tick 1")
    assert runtime.reap(proc.id, "another-run") is False
    assert proc.poll() is None
    assert runtime.reap(proc.id, spec.run_id) is True
    assert proc.wait(60) is not None
    assert runtime.find_trial_containers(spec.run_id) == []
    assert runtime.reap(proc.id, spec.run_id) is False  # nothing left
