"""DockerRuntime: one container per attempt, on an image tagged by the environment's hash.

What the container is made with (mounts, environment, user, limits and hardening, the labels
``trainchain.run``/``trainchain.trial``/``trainchain.attempt``) is ``docker_container``; one
container as a process, and what a dockerd restart does to it, is ``docker_process``.

``prepare`` starts the container of a coming attempt ahead, with exactly these settings (a
"spare", ``docker_spare``); ``start`` then releases it instead of creating one: the create and
start (0.2-1 s) leave the attempt's critical path. A container still serves one attempt only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainchain.errors import EnvironmentBuildError, RuntimeUnavailableError
from trainchain.extras import require
from trainchain.runtimes import gpus, image_build, images
from trainchain.runtimes.base import (
    Environment,
    EnvSpec,
    LogSink,
    Runtime,
    TrialProcess,
    TrialSpec,
    blank,
)
from trainchain.runtimes.docker_container import (
    DATASETS,
    EVENTS_DIR,
    LABEL_ATTEMPT,
    LABEL_RUN,
    LABEL_TRIAL,
    TRIAL_UID,
    container_environ,
    create_args,
    prepare_dirs,
)
from trainchain.runtimes.docker_prefetch import LABEL_PREFETCH, run_replay
from trainchain.runtimes.docker_process import (  # noqa: F401 - re-exported
    ENGINE_RETURN_SECONDS,
    DockerProcess,
    classify,
    docker_host,
    probe,
)
from trainchain.runtimes.docker_spare import LABEL_SPARE, WAITER, Spare, discard_all

if TYPE_CHECKING:
    from docker import DockerClient

log = logging.getLogger(__name__)


def connect(timeout: int = 60) -> Any:
    """A Docker SDK client that answers, or ``RuntimeUnavailableError`` saying what to do."""
    require("docker", "Docker (the docker runtime, `trainchain images`)")
    import docker

    client = None
    try:
        probe(timeout)
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        if client is not None:
            client.close()  # its connection pool would leak with the error
        raise RuntimeUnavailableError(
            f"no Docker engine answers at {docker_host()} ({exc}): start dockerd "
            "(scripts/start-dockerd.sh), set DOCKER_HOST, or use --runtime local"
        ) from exc
    return client


@dataclass(frozen=True)
class TrialContainer:
    """A trial container found by its labels (for the monitor and ``resume``)."""

    id: str
    name: str
    run_id: str
    trial: int
    attempt: int
    status: str  # created | running | exited | dead ...
    image: str


class DockerRuntime(Runtime):
    """Runs each attempt as a container of the environment's image (never pulled)."""

    name = "docker"
    starts_ahead = True
    trials_online = False  # network_mode="none"
    replays_downloads = True  # a download container fills the cache (docker_prefetch)
    datasets_mount = DATASETS

    def __init__(
        self, client: DockerClient | None = None, options: images.BuildOptions | None = None
    ) -> None:
        self.client = client if client is not None else connect()
        self.options = options or images.BuildOptions.from_env()
        self._spares: list[Spare] = []  # started ahead by ``prepare``, one per coming attempt
        self._image_entrypoints: dict[str, list[str]] = {}
        # spares nobody used are removed with the runtime, or at the interpreter's exit
        self._finalizer = weakref.finalize(self, discard_all, self._spares)

    def describe(self) -> str:
        return f"docker ({docker_host()})"

    def close(self) -> None:
        """Remove unused spares; close the engine connection (running attempts go on)."""
        self._finalizer()
        self.client.close()

    def provision(self, spec: EnvSpec, log: LogSink) -> Environment:
        plan = images.env_plan(spec.profile, spec.packages, spec.project_requirements, self.options)
        built = image_build.ensure_image(self.client, plan, log)
        return Environment(runtime=self.name, key=spec.key(), image=plan.tag, created=built)

    def replay_download(
        self, env: Environment, command: list[str], cache: Path, run_id: str
    ) -> tuple[int, str]:
        import docker.errors
        import requests

        if not env.image:
            return 1, "no image to replay the download in"
        try:
            return run_replay(self.client, env.image, command, cache, run_id)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            return 1, f"the Docker engine at {docker_host()} could not run it: {exc}"

    def prepare(self, env: Environment, trial: TrialSpec) -> None:
        """Create and start, in the background, the container of an attempt that comes next
        (``docker_spare``): ``start`` with the same attempt then only releases it."""
        if not env.image or any(s.matches(env.image, trial) for s in self._spares):
            return
        try:
            self._entrypoint(env.image)  # for an image entrypoint fallback at the release
        except Exception as exc:  # noqa: BLE001 - no spare: the attempt will start cold
            log.debug("no spare for trial %s: %s", trial.trial, exc)
            return
        prepare_dirs(trial)
        created = create_args(env, blank(trial))
        created["labels"][LABEL_SPARE] = "1"

        def create(fifo: str) -> Any:
            waiter = ["python", "-c", WAITER, f"{EVENTS_DIR}/{fifo}", *trial.preload]
            return self.client.containers.create(entrypoint=waiter, command=[], **created)

        # the waiter runs as the attempt's user: the FIFO is its
        owner = TRIAL_UID if os.getuid() == 0 else None
        self._spares.append(Spare(env.image, trial, create, owner))

    def _entrypoint(self, image: str) -> list[str]:
        if image not in self._image_entrypoints:
            config = self.client.images.get(image).attrs.get("Config") or {}
            self._image_entrypoints[image] = list(config.get("Entrypoint") or [])
        return self._image_entrypoints[image]

    def _take_spare(self, env: Environment, trial: TrialSpec) -> Any:
        """The container of a spare made for this attempt, released into it; else None."""
        spare = next((s for s in self._spares if s.matches(env.image, trial)), None)
        if spare is None:
            return None
        self._spares.remove(spare)
        args = [trial.entrypoint, *trial.args]
        argv = [*self._image_entrypoints[env.image], *args]
        return spare.release(argv, args, container_environ(trial))

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        import docker.errors
        import requests

        missing = EnvironmentBuildError(
            f"image {env.image or '(none)'} is not in the Docker engine: provision the "
            "environment again (trainchain images build PROFILE); trainchain never pulls "
            "training images from a registry"
        )
        if not env.image:
            raise missing
        try:
            probe(10)  # an engine that is down (a restart): fail here, without the SDK's leak
            if trial.attempt > 1:  # a first attempt has no earlier ones: no round trip for it
                self._clear_earlier_attempts(trial)
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailableError(
                f"the Docker engine at {docker_host()} does not answer ({exc}); "
                "check `docker info` or use --runtime local"
            ) from exc
        released = self._take_spare(env, trial)
        if released is not None:
            log.info(
                "trial %s/%s attempt %s: spare container %s released",
                trial.run_id,
                trial.trial,
                trial.attempt,
                released.short_id,
            )
            return DockerProcess(released, trial.log_path)
        prepare_dirs(trial)
        try:
            # create + start, not run(): run() pulls an image it cannot find, and the image's
            # presence is checked by the create itself (no separate lookup per attempt)
            container = self.client.containers.create(
                command=[trial.entrypoint, *trial.args], **create_args(env, trial)
            )
        except docker.errors.ImageNotFound as exc:
            raise missing from exc
        except (docker.errors.DockerException, requests.RequestException) as exc:
            _no_gpus(trial, exc)  # an engine may refuse a device request at the create already
            raise RuntimeUnavailableError(
                f"cannot create a container of {env.image} for trial {trial.trial} of run "
                f"{trial.run_id}: {exc}; check `docker info` or use --runtime local"
            ) from exc
        try:
            container.start()
        except (docker.errors.DockerException, requests.RequestException) as exc:
            with contextlib.suppress(docker.errors.DockerException, requests.RequestException):
                container.remove(force=True, v=True)
            _no_gpus(trial, exc)  # dockerd 20.10 refuses a device request at the start
            raise RuntimeUnavailableError(
                f"cannot start a container of {env.image} for trial {trial.trial} of run "
                f"{trial.run_id}: {exc}; check `docker info` or use --runtime local"
            ) from exc
        log.info(
            "trial %s/%s attempt %s: container %s",
            trial.run_id,
            trial.trial,
            trial.attempt,
            container.short_id,
        )
        return DockerProcess(container, trial.log_path)

    def _clear_earlier_attempts(self, trial: TrialSpec) -> None:
        """Remove the containers of this trial's earlier attempts: ended ones the engine could
        not remove as it stopped, and a running one the runner gave up on (an engine away for
        longer than ``ENGINE_RETURN_SECONDS``), so two containers never train one trial."""
        import docker.errors

        labels = [f"{LABEL_RUN}={trial.run_id}", f"{LABEL_TRIAL}={trial.trial}"]
        for container in self.client.containers.list(all=True, filters={"label": labels}):
            if int(container.labels.get(LABEL_ATTEMPT, "0")) >= trial.attempt:
                continue
            if container.status in ("running", "restarting", "paused"):
                log.warning(
                    "stopping container %s of attempt %s of trial %s/%s: it outlived its attempt",
                    container.short_id,
                    container.labels.get(LABEL_ATTEMPT),
                    trial.run_id,
                    trial.trial,
                )
            try:
                container.remove(force=True, v=True)
            except docker.errors.APIError as exc:
                log.debug("remove %s: %s", container.short_id, exc)

    def find_trial_containers(self, run_id: str | None = None) -> list[TrialContainer]:
        """Trial containers (running or not) of ``run_id``, or of every run."""
        label = f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN
        found = []
        for container in self.client.containers.list(all=True, filters={"label": label}):
            labels = container.labels
            if not _is_trial(labels):
                continue
            found.append(
                TrialContainer(
                    id=str(container.id),
                    name=str(container.name),
                    run_id=labels.get(LABEL_RUN, ""),
                    trial=int(labels.get(LABEL_TRIAL, "0")),
                    attempt=int(labels.get(LABEL_ATTEMPT, "0")),
                    status=container.status,
                    image=(container.image.tags or [container.image.id])[0]
                    if container.image
                    else "",
                )
            )
        return sorted(found, key=lambda c: (c.run_id, c.trial, c.attempt))

    def reap(self, process_id: str, run_id: str) -> bool:
        """Kill and remove an orphaned attempt's container, only if its label says ``run_id``."""
        import docker.errors

        try:
            container = self.client.containers.get(process_id)
        except docker.errors.NotFound:
            return False
        except docker.errors.DockerException as exc:
            raise RuntimeUnavailableError(
                f"cannot inspect container {process_id} of run {run_id}: {exc}; check `docker info`"
            ) from exc
        if container.labels.get(LABEL_RUN) != run_id:
            return False  # not ours to stop
        running = container.status in ("running", "restarting", "paused", "created")
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            log.debug("reap %s: %s", container.short_id, exc)
        return running

    def is_alive(self, process_id: str, run_id: str) -> bool | None:
        """Whether the container still runs; None when the engine does not answer (no
        evidence that it died) or the container is not ``run_id``'s."""
        import docker.errors

        try:
            container = self.client.containers.get(process_id)
        except docker.errors.NotFound:
            return False
        except docker.errors.DockerException:
            return None
        if container.labels.get(LABEL_RUN) not in (None, run_id):
            return None
        return str(container.status) in ("running", "created", "restarting")

    def follow_deaths(self, died: Callable[[str], None], stop: threading.Event) -> bool:
        """Follow the engine's ``die`` events of trial containers; a non-zero exit calls
        ``died(run_id)``. Reconnects while the engine restarts."""
        filters = {"label": LABEL_RUN, "type": "container", "event": "die"}
        while not stop.is_set():
            try:
                for event in self.client.events(decode=True, filters=filters):
                    attributes = (event.get("Actor") or {}).get("Attributes") or {}
                    if attributes.get("exitCode", "0") != "0" and _is_trial(attributes):
                        died(attributes[LABEL_RUN])
                    if stop.is_set():
                        break
            except Exception as exc:  # noqa: BLE001 - the engine restarting: follow it again
                log.warning("docker events: %s; reconnecting", exc)
                stop.wait(2.0)
        return True

    def abnormal_ends(self) -> list[str]:
        lines = []
        exited: dict[str, str | list[str] | bool] = {"label": LABEL_RUN, "status": "exited"}
        for c in self.client.containers.list(all=True, filters=exited):
            if not _is_trial(c.labels):
                continue
            state = c.attrs.get("State") or {}
            if state.get("ExitCode") not in (0, None) or state.get("OOMKilled"):
                lines.append(
                    f"container {c.name} of run {c.labels.get(LABEL_RUN)} exited with code "
                    f"{state.get('ExitCode')}{' (OOM)' if state.get('OOMKilled') else ''}"
                )
        return lines

    def attach(self, container_id: str, log_path: Path) -> TrialProcess:
        """Re-attach to a container that outlived its controller (logs append to ``log_path``)."""
        import docker.errors

        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound as exc:
            raise RuntimeUnavailableError(
                f"container {container_id} no longer exists: resume the trial from its checkpoint"
            ) from exc
        return DockerProcess(container, log_path, since_now=True)


def _no_gpus(trial: TrialSpec, exc: Exception) -> None:
    """An engine that cannot give the trial its GPUs: one clear error (waiting will not help,
    so not ``RuntimeUnavailableError``, which the runner waits out)."""
    if gpus.refused(exc) and gpus.device_requests(trial):
        raise gpus.no_gpu_support(trial, docker_host(), exc) from None


def _is_trial(labels: dict[str, str]) -> bool:
    """Whether a container's labels (an event's attributes hold them too) are a trial's: the
    download container carries its run's label as well, but trains nothing."""
    return bool(labels.get(LABEL_RUN)) and LABEL_PREFETCH not in labels
