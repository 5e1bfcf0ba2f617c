"""Docker variants (issue 6): ``docker kill`` of the trial container at random epochs, its
``docker stop`` (a SIGTERM), a corrupted latest checkpoint, a full checkpoint filesystem and a
deterministic crash, through ``DockerRuntime``. Restarting dockerd is not tested here: on a
shared engine it stops every other container (test_dockerd_restart.py does, where allowed)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.helpers import build_options, require_engine
from tests.faults.helpers import (
    CNN_SCRIPT,
    EPOCHS,
    PAUSE,
    Kill,
    Watcher,
    make_runner,
    run_kill_case,
)
from tests.faults.record import record
from tests.faults.test_checkpoints import CORRUPTIONS, CRASHING, full_tmpfs
from tests.faults.test_kill_training import FULL, SEED, _id, plan
from trainchain.agent.events import read_events
from trainchain.profiles import env_packages
from trainchain.runtimes.base import Environment, EnvSpec
from trainchain.runtimes.docker_process import STOP_GRACE_SECONDS
from trainchain.trials.workspace import trial_dirs

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]

_RNG = __import__("random").Random(SEED + 1)
PLANS = [plan(_RNG, FULL and _RNG.random() < 0.25) for _ in range(20 if FULL else 2)]
PLANS.append([Kill(1, EPOCHS, 0.0)])


@pytest.fixture(scope="module")
def docker_runtime() -> Iterator[Any]:
    require_engine()
    from trainchain.runtimes.docker import DockerRuntime

    runtime = DockerRuntime(options=build_options())
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def keras_image(docker_runtime: Any) -> Environment:
    env: Environment = docker_runtime.provision(
        EnvSpec("keras", env_packages("keras", ("sklearn",))), lambda line: None
    )
    return env


def docker_killer(runtime: Any) -> Any:
    def kill(run_id: str, _start: dict[str, Any], attempt: int) -> str:
        running = [
            c
            for c in runtime.find_trial_containers(run_id)
            if c.attempt == attempt and c.status == "running"
        ]
        assert running, f"no running container for attempt {attempt} of {run_id}"
        runtime.client.containers.get(running[0].id).kill()  # SIGKILL, as `docker kill`
        return str(running[0].name)

    return kill


@pytest.mark.parametrize("kills", PLANS, ids=[_id(p) for p in PLANS])
def test_docker_kill_of_the_trial_container_resumes_with_a_whole_curve(
    tmp_path: Path, docker_runtime: Any, keras_image: Environment, kills: list[Kill]
) -> None:
    print(f"seed {SEED}: kills {kills}")
    _, case = run_kill_case(
        tmp_path, docker_runtime, keras_image, "kill-docker", kills, docker_killer(docker_runtime)
    )
    record(
        "kill_training",
        _id(kills),
        runtime="docker",
        seed=SEED,
        ok=case.failure is None,
        redone=case.redone,
        to_resume=case.to_resume,
        wall=case.wall,
        failure=case.failure,
    )
    if case.failure is not None:
        pytest.fail(f"seed {SEED}, kills {kills}: {case.failure}")


def test_docker_stop_of_the_trial_container_ends_it_by_its_sigterm_and_resumes(
    tmp_path: Path, docker_runtime: Any, keras_image: Environment
) -> None:
    """``docker stop`` (the runtime's graceful stop, dockerd's shutdown) sends SIGTERM through
    docker's init, then SIGKILL after its timeout. The training ends by the SIGTERM (143, not
    137) with an ``end`` event saying so, even when the agent's ``Terminated`` is dropped by
    TensorFlow (the stop lands during the epoch's end, in Keras' ``save_weights``), and the
    next attempt resumes from the checkpoint."""
    stopped: dict[str, Any] = {}

    def stop(run_id: str, _start: dict[str, Any], attempt: int) -> str:
        running = [
            c
            for c in docker_runtime.find_trial_containers(run_id)
            if c.attempt == attempt and c.status == "running"
        ]
        assert running, f"no running container for attempt {attempt} of {run_id}"
        container = docker_runtime.client.containers.get(running[0].id)
        container.stop(timeout=STOP_GRACE_SECONDS)  # as DockerProcess.stop: returns once ended
        container.reload()
        stopped.update(container.attrs["State"])
        return str(running[0].name)

    # the epochs left after the stop outlast docker's stop timeout: a SIGTERM that did not end
    # the training is the engine's SIGKILL (137)
    pause = STOP_GRACE_SECONDS / 4
    store, case = run_kill_case(
        tmp_path,
        docker_runtime,
        keras_image,
        "stop-docker",
        [Kill(attempt=1, after_epoch=3, delay=0.0)],
        stop,
        code=CNN_SCRIPT.replace(f"PAUSE = {PAUSE}", f"PAUSE = {pause}"),
    )
    events, _ = read_events(str(trial_dirs(tmp_path / "run", 0).events(1)))
    ends = [ev for ev in events if ev.get("type") == "end"]
    trial = store.trial("stop-docker", 0)
    assert trial is not None
    first, *rest = trial.attempts
    end = (ends[-1]["exception"] or {}).get("message") if ends else None
    resumed = ", ".join(f"attempt {a.number} {a.outcome} from epoch {a.first_epoch}" for a in rest)
    record(
        "docker_stop",
        "SIGTERM after epoch 3",
        runtime="docker",
        ok=case.failure is None and stopped.get("ExitCode") == 143,
        outcome=f"exit code {stopped.get('ExitCode')} (end: {end}); {resumed}",
    )
    assert stopped.get("ExitCode") == 143, stopped  # SIGTERM; 137: SIGKILL after the timeout
    assert [(ev["status"], (ev["exception"] or {}).get("type")) for ev in ends] == [
        ("error", "Terminated")
    ], ends
    assert first.outcome == "killed" and (first.reason or "").startswith("killed by SIGTERM")
    assert (first.last_epoch or 0) < EPOCHS, first.last_epoch
    assert case.failure is None, case.failure  # resumed from the checkpoint, whole curve


def test_docker_corrupted_checkpoint_falls_back_to_the_previous_one(
    tmp_path: Path, docker_runtime: Any, keras_image: Environment
) -> None:
    corrupt, _ = CORRUPTIONS["truncated-weights"]
    backup = trial_dirs(tmp_path / "run", 0).checkpoints / "keras-fit-1"
    store, runner = make_runner(tmp_path, docker_runtime, keras_image, "dckpt", restart_backoff=2.0)
    kill = docker_killer(docker_runtime)

    def killer(run_id: str, start: dict[str, Any], attempt: int) -> str:
        target: str = kill(run_id, start, attempt)
        time.sleep(0.5)  # the container is gone; the runner restarts after its backoff
        corrupt(backup)
        return target

    with Watcher(tmp_path / "run", 0, [Kill(1, 4, 0.1)], killer, run_id="dckpt") as w:
        result = runner.run(0, {})
    assert not w.errors, w.errors
    trial = store.trial("dckpt", 0)
    assert trial is not None and result.state.value == "complete", result.error
    events, _ = read_events(str(trial_dirs(tmp_path / "run", 0).events(2)))
    told = [ev for ev in events if ev.get("type") == "checkpoint" and ev.get("fallback")]
    assert told and told[0]["fallback"] == "previous", events
    assert trial.attempts[1].first_epoch == trial.attempts[0].last_epoch
    record("checkpoints", "truncated-weights", runtime="docker", ok=True)


def test_docker_full_checkpoint_filesystem_is_said_and_the_training_completes(
    tmp_path: Path, docker_runtime: Any, keras_image: Environment
) -> None:
    checkpoints = trial_dirs(tmp_path / "run", 0).checkpoints
    store, runner = make_runner(tmp_path, docker_runtime, keras_image, "dfull")
    with full_tmpfs(checkpoints):
        os.chmod(checkpoints, 0o777)  # the container runs as the calling uid
        result = runner.run(0, {})
    trial = store.trial("dfull", 0)
    assert trial is not None and result.state.value == "complete", result.error
    assert {e.epoch for e in trial.epochs} == set(range(1, EPOCHS + 1))
    events, _ = read_events(str(trial_dirs(tmp_path / "run", 0).events(1)))
    assert any(
        "No space left" in str(ev.get("error")) for ev in events if ev.get("type") == "checkpoint"
    )
    record("checkpoints", "full-filesystem", runtime="docker", ok=True)


def test_docker_deterministic_crash_is_a_crash_loop(
    tmp_path: Path, docker_runtime: Any, keras_image: Environment
) -> None:
    store, runner = make_runner(tmp_path, docker_runtime, keras_image, "dloop", code=CRASHING)
    result = runner.run(0, {})
    trial = store.trial("dloop", 0)
    assert trial is not None and result.state.value == "failed" and len(trial.attempts) == 2
    assert (
        result.error is not None
        and "crash loop" in result.error
        and "bad batch at epoch 3" in result.error
    )
    record(
        "checkpoints",
        "deterministic-crash",
        runtime="docker",
        ok=True,
        attempts=len(trial.attempts),
        stopped_as="crash loop",
    )
