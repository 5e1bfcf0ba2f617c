"""Containers started ahead (``DockerRuntime.prepare``): an attempt released into its spare is
the container a cold start makes (settings, parameters, exit codes, signals); a spare that
cannot serve gives way to a cold start; no spare outlives its runtime or its controller."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from tests.contract.helpers import build_options, read_events, trial_spec

from trainchain.runtimes.base import Environment, TrialSpec
from trainchain.runtimes.docker import DockerRuntime
from trainchain.runtimes.docker_container import LABEL_RUN
from trainchain.runtimes.docker_spare import LABEL_SPARE
from trainchain.states import OutcomeKind

SCRIPT = """\
import os, sys, time
EPOCHS = 1
print(f"epochs={EPOCHS} seed={os.environ.get('TRAINCHAIN_SEED')}", flush=True)
if os.environ.get("MODE") == "slow":
    for i in range(600):
        print("tick", i, flush=True)
        time.sleep(0.2)
if os.environ.get("MODE") == "fail":
    sys.exit(5)
print("accuracy: 0.5")
"""

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def _spec(tmp_path: Path, trial: int = 4, **overrides: object) -> TrialSpec:
    workdir = tmp_path / f"work-{trial}"
    workdir.mkdir()
    (workdir / "train.py").write_text(SCRIPT)
    run_id = f"spare-{uuid.uuid4().hex[:8]}"
    fields: dict[str, object] = {"run_id": run_id, "trial": trial, **overrides}
    return trial_spec(tmp_path, workdir, **fields)


def _ready_spare(runtime: DockerRuntime, env: Environment, spec: TrialSpec) -> str:
    """Prepare ``spec`` as the trial runner does (no params yet); the spare's container id."""
    runtime.prepare(env, spec)
    (spare,) = [s for s in runtime._spares if s.matches(env.image, spec)]
    assert spare.wait_ready(120)
    assert spare.container is not None
    spare.container.reload()
    assert spare.container.status == "running"
    return str(spare.container.id)


def _containers(runtime: DockerRuntime, run_id: str) -> list[object]:
    return list(
        runtime.client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})
    )


def test_the_attempt_runs_in_its_spare_with_its_params_and_settings(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    blank = _spec(tmp_path)
    spare_id = _ready_spare(runtime, env, blank)
    attrs = runtime.client.containers.get(spare_id).attrs
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["Init"] is True
    assert attrs["Config"]["User"].split(":")[0] != "0"
    mounts = {m["Destination"]: m["RW"] for m in attrs["Mounts"]}
    assert mounts["/opt/trainchain/agent"] is False and mounts["/code"] is True
    assert attrs["Config"]["Labels"][LABEL_SPARE] == "1"

    spec = dataclasses.replace(blank, params={"EPOCHS": 7}, extra_env={"TRAINCHAIN_SEED": "11"})
    proc = runtime.start(env, spec)
    assert proc.id == spare_id  # released, not a new container
    outcome = proc.wait(120)
    log = spec.log_path.read_text()
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, log
    assert "epochs=7 seed=11" in log  # the parameters and the environment of the release
    events = read_events(spec.events_path)
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["warm", "seed", "start"] and "metric" in kinds and kinds[-1] == "end"
    assert events[0]["imported"] == []  # a script of no framework: nothing imported ahead


def test_exit_codes_and_stop_reach_a_released_attempt(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    failing = _spec(tmp_path, trial=5, extra_env={"MODE": "fail"})
    _ready_spare(runtime, env, failing)
    outcome = runtime.start(env, failing).wait(120)
    assert outcome is not None and (outcome.kind, outcome.exit_code) == (OutcomeKind.FAILED, 5)
    assert _containers(runtime, failing.run_id) == []  # removed, as a cold one

    slow = _spec(tmp_path, trial=6, extra_env={"MODE": "slow"})
    spare_id = _ready_spare(runtime, env, slow)
    proc = runtime.start(env, slow)
    assert proc.id == spare_id
    deadline = time.monotonic() + 60
    while "tick 1" not in slow.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.stop("pruned at epoch 1")  # SIGTERM through docker's init to the agent
    outcome = proc.wait(60)
    assert outcome is not None and outcome.kind is OutcomeKind.STOPPED
    assert read_events(slow.events_path)[-1]["type"] == "end"  # the agent ended it cleanly


def test_a_spare_that_cannot_serve_gives_way_to_a_cold_start(
    docker_env: tuple[DockerRuntime, Environment], tmp_path: Path
) -> None:
    runtime, env = docker_env
    spec = _spec(tmp_path, trial=7)
    spare_id = _ready_spare(runtime, env, spec)
    runtime.client.containers.get(spare_id).kill()  # its waiter is gone
    time.sleep(1)
    proc = runtime.start(env, spec)
    assert proc.id != spare_id
    outcome = proc.wait(120)
    assert outcome is not None and outcome.kind is OutcomeKind.SUCCEEDED, spec.log_path.read_text()

    (tmp_path / "again").mkdir()
    again = _spec(tmp_path / "again", trial=10)
    stale = _ready_spare(runtime, env, again)
    shutil.rmtree(again.checkpoint_dir)  # made again (a checkpoint copied in, say): the
    again.checkpoint_dir.mkdir()  # spare's mount holds the directory that was removed
    proc = runtime.start(env, again)
    assert proc.id != stale
    assert proc.wait(120) is not None
    assert runtime.client.containers.list(all=True, filters={"id": stale}) == []

    (tmp_path / "other").mkdir()
    other = _spec(tmp_path / "other", trial=8)
    unused = _ready_spare(runtime, env, other)
    elsewhere = dataclasses.replace(other, trial=9)  # not the attempt it was made for
    proc = runtime.start(env, elsewhere)
    assert proc.id != unused
    assert proc.wait(120) is not None
    since = int(time.time()) - 1
    runtime._finalizer()  # what close() and the runtime's collection do
    assert runtime.client.containers.list(all=True, filters={"id": unused}) == []
    died = runtime.client.events(
        since=since, until=int(time.time()) + 1, decode=True,
        filters={"container": unused, "event": "die"},
    )  # fmt: skip
    codes = [e["Actor"]["Attributes"]["exitCode"] for e in died]
    assert codes == ["0"]  # let go, not killed: the monitor sees no abnormal death
    assert not list((other.events_path.parent).glob(".release-*"))  # its FIFO is gone too


def test_a_spare_ends_with_its_controller(tmp_path: Path) -> None:
    """A controller killed outright (no finalizer runs): its waiter reads end-of-file."""
    build_options()  # skips (or fails in CI) without an engine or base image
    run_id = f"spare-{uuid.uuid4().hex[:8]}"
    code = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from tests.contract.helpers import build_options, trial_spec
        from trainchain.runtimes.base import EnvSpec
        from trainchain.runtimes.docker import DockerRuntime
        root = Path({str(tmp_path)!r})
        (root / "work").mkdir()
        (root / "work" / "train.py").write_text("print('accuracy: 0.5')")
        runtime = DockerRuntime(options=build_options())
        env = runtime.provision(EnvSpec(profile="generic", packages=()), lambda line: None)
        spec = trial_spec(root, root / "work", run_id={run_id!r})
        runtime.prepare(env, spec)
        assert runtime._spares[0].wait_ready(120)
        print(runtime._spares[0].container.id, flush=True)
        os._exit(0)
        """
    )
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    container_id = done.stdout.split()[-1]
    with contextlib.closing(DockerRuntime()) as runtime:
        deadline = time.monotonic() + 60
        status = "running"
        while status == "running" and time.monotonic() < deadline:
            status = runtime.client.containers.get(container_id).status
            time.sleep(0.2)
        try:
            assert status == "exited"  # ended with its controller, never left waiting
        finally:
            runtime.client.containers.get(container_id).remove(force=True)
