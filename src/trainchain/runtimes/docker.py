"""DockerRuntime: one container per attempt, on an image tagged by the environment's hash.

Mounts (host -> container):

- ``TrialSpec.workdir`` -> ``/code``, **read-write**: it is already a disposable copy made for
  this attempt, and many scripts write next to themselves (``model.h5``, ``plots/``);
- ``TrialSpec.data[NAME]`` -> ``/code/NAME`` read-only;
- output -> ``/output``, checkpoints -> ``/checkpoints``, the events file's directory ->
  ``/trainchain/events`` (all writable); the staged agent -> ``/opt/trainchain/agent`` read-only
  (shadowing the copy baked into the image, so the controller's agent is the one that runs).

The container runs as the calling uid:gid (files on the host stay the user's), with no network,
the memory/CPU limits of ``TrialSpec.resources``, docker's init as PID 1 (signals reach the
script) and the labels ``trainchain.run``/``trainchain.trial``/``trainchain.attempt``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainchain import images
from trainchain.errors import EnvironmentBuildError, RuntimeUnavailableError
from trainchain.runtimes.base import (
    Environment,
    EnvSpec,
    LogSink,
    Outcome,
    OutcomeKind,
    Runtime,
    TrialProcess,
    TrialSpec,
)
from trainchain.runtimes.staging import agent_dir

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10
ENGINE_RETURN_SECONDS = 180.0  # how long a lost waiter waits for the engine to answer again
CODE, OUTPUT, CHECKPOINTS = "/code", "/output", "/checkpoints"
EVENTS_DIR, AGENT_DIR = "/trainchain/events", "/opt/trainchain/agent"
LABEL_RUN, LABEL_TRIAL, LABEL_ATTEMPT = "trainchain.run", "trainchain.trial", "trainchain.attempt"


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: int = 60) -> Any:
    """A Docker SDK client that answers, or ``RuntimeUnavailableError`` saying what to do."""
    try:
        import docker
    except ImportError as exc:
        raise RuntimeUnavailableError(
            "the Docker SDK for Python is not installed: pip install 'trainchain[docker]', "
            "or use --runtime local"
        ) from exc
    try:
        _probe(timeout)
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise RuntimeUnavailableError(
            f"no Docker engine answers at {docker_host()} ({exc}): start dockerd "
            "(scripts/start-dockerd.sh), set DOCKER_HOST, or use --runtime local"
        ) from exc
    return client


def _probe(timeout: float) -> None:
    """Connect to a unix socket ourselves first: docker-py leaks the socket of a failed
    connection (a ResourceWarning), and a missing socket file says the most on its own."""
    host = docker_host()
    if not host.startswith("unix://"):
        return  # tcp/ssh: the SDK's own error is clear enough
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)  # FileNotFoundError / ConnectionRefusedError / PermissionError


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

    def __init__(self, client: Any = None, options: images.BuildOptions | None = None) -> None:
        self.client = client if client is not None else connect()
        self.options = options or images.BuildOptions.from_env()

    def describe(self) -> str:
        return f"docker ({docker_host()})"

    def close(self) -> None:
        """Close the engine connection (running containers are not affected)."""
        self.client.close()

    def provision(self, spec: EnvSpec, log: LogSink) -> Environment:
        plan = images.env_plan(spec.profile, spec.packages, spec.project_requirements, self.options)
        built = images.ensure_image(self.client, plan, log)
        return Environment(runtime=self.name, key=spec.key(), image=plan.tag, created=built)

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        import docker.errors
        import requests

        try:
            _probe(10)  # an engine that is down (a restart): fail here, without the SDK's leak
            present = bool(env.image) and images.image_exists(self.client, env.image)
            self._clear_earlier_attempts(trial)
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailableError(
                f"the Docker engine at {docker_host()} does not answer ({exc}); "
                "check `docker info` or use --runtime local"
            ) from exc
        if not present:
            raise EnvironmentBuildError(
                f"image {env.image or '(none)'} is not in the Docker engine: provision the "
                "environment again (trainchain images build PROFILE); trainchain never pulls "
                "training images from a registry"
            )
        for directory in (trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        trial.log_path.parent.mkdir(parents=True, exist_ok=True)
        for name in trial.data:  # a mount point made by dockerd would belong to root
            (trial.workdir / name).mkdir(parents=True, exist_ok=True)
        try:
            container = self.client.containers.run(
                env.image,
                command=[trial.entrypoint, *trial.args],
                detach=True,
                init=True,
                name=_container_name(trial),
                labels={
                    LABEL_RUN: trial.run_id,
                    LABEL_TRIAL: str(trial.trial),
                    LABEL_ATTEMPT: str(trial.attempt),
                },
                environment=container_environ(trial),
                mounts=_mounts(trial),
                working_dir=CODE,
                user=f"{os.getuid()}:{os.getgid()}",
                network_mode="none",
                **_limits(trial),
            )
        except (docker.errors.DockerException, requests.RequestException) as exc:
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
            found.append(
                TrialContainer(
                    id=container.id,
                    name=container.name,
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


def container_environ(trial: TrialSpec) -> dict[str, str]:
    """The trial's environment with the paths as the container sees them."""
    environ = {
        "PYTHONPATH": AGENT_DIR,
        "PYTHONUNBUFFERED": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TRAINCHAIN_CODE": CODE,
        "TRAINCHAIN_PARAMS": json.dumps(trial.params),
        "TRAINCHAIN_OUTPUT_DIR": OUTPUT,
        "TRAINCHAIN_CHECKPOINT_DIR": CHECKPOINTS,
        "TRAINCHAIN_EVENTS": f"{EVENTS_DIR}/{trial.events_path.name}",
        "TRAINCHAIN_RUN": trial.run_id,
        "TRAINCHAIN_TRIAL": str(trial.trial),
        "TRAINCHAIN_ATTEMPT": str(trial.attempt),
        "HOME": "/tmp/home",  # the calling uid has no home in the image
    }
    if trial.resources.cpus:
        threads = str(max(1, int(trial.resources.cpus)))
        environ.update(OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads)
    environ.update(trial.extra_env)
    return environ


def _mounts(trial: TrialSpec) -> list[Any]:
    """Bind mounts as a list: one host directory may appear at several targets (events in the
    output directory, say), which a ``volumes`` dict keyed by host path would silently drop."""
    from docker.types import Mount

    def bind(source: Path, target: str, read_only: bool = False) -> Any:
        return Mount(target, str(source.resolve()), type="bind", read_only=read_only)

    mounts = [
        bind(trial.workdir, CODE),
        bind(trial.output_dir, OUTPUT),
        bind(trial.checkpoint_dir, CHECKPOINTS),
        bind(trial.events_path.parent, EVENTS_DIR),
        bind(agent_dir(), AGENT_DIR, read_only=True),
    ]
    mounts += [
        bind(Path(src), f"{CODE}/{name}", read_only=True) for name, src in trial.data.items()
    ]
    return mounts


def _limits(trial: TrialSpec) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if trial.resources.memory:
        # no swap beyond the limit: an OOM is an OOM, not a crawl
        limits["mem_limit"] = limits["memswap_limit"] = trial.resources.memory
    if trial.resources.cpus:
        limits["nano_cpus"] = int(trial.resources.cpus * 1e9)
    return limits


def _container_name(trial: TrialSpec) -> str:
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in trial.run_id)[:40]
    return f"trainchain-{safe}-t{trial.trial}-a{trial.attempt}-{secrets.token_hex(3)}"


class DockerProcess(TrialProcess):
    """A running container; a waiter thread records its end, a log thread copies its output.

    When the engine stops answering while the container runs (dockerd restarting), the waiter
    waits up to ``ENGINE_RETURN_SECONDS`` for it: a container that is still running (a daemon
    with ``live-restore``) is re-attached, never trained twice beside a new attempt."""

    def __init__(self, container: Any, log_path: Path, since_now: bool = False) -> None:
        self.container = container
        self.id = container.id
        self._log_path = log_path
        self._forced: tuple[OutcomeKind, str] | None = None
        self._outcome: Outcome | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._logger = self._start_logger({"tail": 0} if since_now else {})
        self._waiter = threading.Thread(
            target=self._wait_end, name=f"wait-{container.short_id}", daemon=True
        )
        self._waiter.start()

    def poll(self) -> Outcome | None:
        return self._outcome if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> Outcome | None:
        return self._outcome if self._done.wait(timeout) else None

    def stop(self, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (OutcomeKind.STOPPED, reason)
        self._call("stop", timeout=STOP_GRACE_SECONDS)  # SIGTERM, SIGKILL after the grace

    def kill(self, kind: OutcomeKind, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (kind, reason)
        self._call("kill")

    def _call(self, method: str, **kwargs: Any) -> None:
        import docker.errors
        import requests

        try:
            getattr(self.container, method)(**kwargs)
        except (docker.errors.DockerException, requests.RequestException) as exc:
            # already gone or ended, or the engine is away: the waiter sees to it
            log.debug("%s %s: %s", method, self.container.short_id, exc)

    def _start_logger(self, options: dict[str, Any]) -> threading.Thread:
        thread = threading.Thread(
            target=self._copy_logs,
            args=(options,),
            name=f"logs-{self.container.short_id}",
            daemon=True,
        )
        thread.start()
        return thread

    def _copy_logs(self, options: dict[str, Any]) -> None:
        try:
            with open(self._log_path, "ab", buffering=0) as sink:
                for chunk in self.container.logs(stream=True, follow=True, **options):
                    sink.write(chunk)
        except Exception as exc:  # noqa: BLE001 - DockerException, OSError, or the engine's
            # connection dropping mid-stream: the log ends, the waiter decides the outcome
            log.warning("log stream of %s ended: %s", self.container.short_id, exc)

    def _wait_end(self) -> None:
        outcome = Outcome(OutcomeKind.LOST, reason="the container's waiter stopped unexpectedly")
        try:
            state = self._end_state()
            with self._lock:
                forced = self._forced
            outcome = classify(state, forced)
        except Exception as exc:  # noqa: BLE001 - a supervisor's waiter must always report
            log.warning("waiting for %s failed: %s", self.container.short_id, exc)
            outcome = Outcome(OutcomeKind.LOST, reason=f"{_LOST_CONTACT} ({_describe(exc)})")
        finally:
            self._outcome = outcome
            self._done.set()

    def _end_state(self) -> dict[str, Any]:
        """``State`` of the ended container, or ``{"Lost": why}`` when the engine cannot say."""
        import docker.errors

        while True:
            try:
                self.container.wait()  # no timeout: blocks until the container ends
                self.container.reload()
                state: dict[str, Any] = dict(self.container.attrs["State"])
                break
            except docker.errors.NotFound:
                self._logger.join(timeout=30)
                return {"Lost": _REMOVED}
            except Exception as exc:  # noqa: BLE001 - DockerException, requests/urllib3/socket
                # errors when dockerd stops: wait for it, then ask again how the container is
                lost_at = time.time()
                self._logger.join(timeout=30)
                log.warning("lost contact with the Docker engine (%s); waiting for it", exc)
                state = self._after_engine_returns(exc)
                if "Lost" not in state:  # copy what it printed meanwhile (a second may repeat)
                    self._logger = self._start_logger({"since": int(lost_at)})
                if state.get("Running"):
                    log.info("re-attached to %s after the engine returned", self.container.short_id)
                    continue
                break
        self._logger.join(timeout=30)
        if state.get("Status") == "removing":
            return {"Lost": _REMOVED}
        if "Lost" in state:
            return state
        removed = self._remove()
        if removed is None:  # a stopping engine ends its containers, then stops answering
            return {
                "Lost": f"{_LOST_CONTACT} as it ended the container (exit code "
                f"{state.get('ExitCode')}); a dockerd restart stops its containers"
            }
        if not removed and state.get("ExitCode") != 0:
            return {"Lost": _REMOVED}  # `docker rm -f` from outside: it was killed, not ended
        return state

    def _after_engine_returns(self, exc: BaseException) -> dict[str, Any]:
        """The container's ``State`` once the engine answers again, or ``{"Lost": why}``."""
        import docker.errors

        deadline = time.monotonic() + ENGINE_RETURN_SECONDS
        while True:
            try:
                _probe(5)
                self.container.reload()
                break
            except docker.errors.NotFound:
                return {"Lost": _REMOVED}
            except Exception:  # noqa: BLE001 - still away
                if time.monotonic() > deadline:
                    return {
                        "Lost": f"{_LOST_CONTACT} for {ENGINE_RETURN_SECONDS:.0f} s "
                        f"({_describe(exc)})"
                    }
                time.sleep(1)
        state = dict(self.container.attrs["State"])
        with self._lock:
            forced = self._forced
        if forced and state.get("Running"):  # a stop or kill asked while the engine was away
            self._call("kill")
            self.container.wait()
            self.container.reload()
            state = dict(self.container.attrs["State"])
        return state

    def _remove(self) -> bool | None:
        """Remove the container and its anonymous volumes: True if removed, False if it was
        already gone, None if the engine does not answer."""
        import docker.errors
        import requests

        try:
            _probe(5)  # an engine that has stopped: say so without the SDK's socket leak
            self.container.remove(v=True)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:  # e.g. removal already in progress
            log.debug("remove %s: %s", self.container.short_id, exc)
            return "already in progress" not in str(exc)
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            log.debug("remove %s: %s", self.container.short_id, exc)
            return None
        return True


_LOST_CONTACT = "lost contact with the Docker engine"


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


_REMOVED = "the container was removed while it ran (docker rm -f?)"


def classify(state: dict[str, Any], forced: tuple[OutcomeKind, str] | None) -> Outcome:
    """The outcome of an ended container from its ``State`` (``docker inspect``)."""
    if forced:  # we ended it: whatever the engine says next (even "gone") is our doing
        code = state.get("ExitCode")
        return Outcome(forced[0], exit_code=None if code is None else int(code), reason=forced[1])
    if "Lost" in state:
        return Outcome(OutcomeKind.LOST, reason=str(state["Lost"]))
    code = int(state.get("ExitCode", -1))
    if state.get("OOMKilled"):
        return Outcome(
            OutcomeKind.OOM,
            exit_code=code,
            reason="killed by the out-of-memory killer (memory limit reached)",
        )
    if code == 0:
        return Outcome(OutcomeKind.SUCCEEDED, exit_code=0)
    if 128 < code <= 128 + 64:  # the init reports a child killed by signal N as 128+N
        sig = code - 128
        return Outcome(
            OutcomeKind.KILLED, exit_code=code, signal=sig, reason=f"killed by {_signal_name(sig)}"
        )
    error = state.get("Error") or ""
    reason = f"exited with code {code}" + (f": {error}" if error else "")
    return Outcome(OutcomeKind.FAILED, exit_code=code, reason=reason)


def _signal_name(sig: int) -> str:
    import signal

    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
