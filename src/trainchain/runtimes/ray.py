"""RayRuntime: each attempt is a detached Ray actor on whichever node has its resources.

The controller (this process) connects to a running cluster (``--ray-address`` /
``TRAINCHAIN_RAY_ADDRESS``: ``auto``, ``host:6379`` or ``ray://host:10001``). An attempt runs in a
named, detached ``TrialHost`` actor holding the trial's resources (CPUs, GPUs, memory, custom
resources): an idle host of the same resources left by an earlier attempt of this process is reused
(Ray Tune's ``reuse_actors``: no new Ray worker per attempt), else Ray places a new one on
whichever node has them. The host builds the venv (or the hash-tagged image) on its node, unpacks
the snapshot (sent once through the object store) and runs the agent there (``ray_node``). A pump
thread pulls events and log lines into the controller's files, so live curves and the pruner read
them as on the other runtimes. Outputs and checkpoints are written straight to the run's directory,
which must be on storage every node mounts (``TRAINCHAIN_STORAGE``; a probe fails the attempt
clearly when a node cannot see it).

The actor dying (its node lost) ends the attempt ``lost``; the runner restarts it elsewhere from
the last checkpoint. Detached actors outlive a dead controller: ``reattach`` follows them again
(an attempt's process id is ``RUN:TRIAL:ATTEMPT:TAG@HOST``, the host actor's name).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from trainchain.errors import RuntimeUnavailableError
from trainchain.runtimes.base import (
    Environment,
    EnvSpec,
    LogSink,
    Outcome,
    Runtime,
    TrialProcess,
    TrialSpec,
)
from trainchain.runtimes.ray_node import (
    IDLE_SECONDS,
    STORAGE_PROBE,
    TrialHost,
    listing_digest,
    pack,
)
from trainchain.runtimes.ray_pool import (
    POOL,
    Host,
    check_fits,
    host_options,
    kill_quietly,
    memory_bytes,
    shape,
)
from trainchain.settings import operator_settings
from trainchain.states import OutcomeKind

log = logging.getLogger(__name__)
NAMESPACE = "trainchain"
PULL_SECONDS = 1.0  # a pull waits up to this long on the node for something new
GET_SECONDS = 5.0  # one wait for the actor; retried until Ray declares it dead
UNAVAILABLE_SECONDS = 60.0  # an unreachable actor's node is declared dead well before this
NODE_VERDICT_SECONDS = 45.0  # how long a SIGKILLed attempt waits for Ray to say its node died
STOP_GRACE_SECONDS = 10.0
__all__ = ["RayProcess", "RayRuntime", "memory_bytes"]


@dataclass(frozen=True)
class Launch:
    """What a host needs to start an attempt."""

    key: str  # RUN:TRIAL:ATTEMPT:TAG, the attempt's process id
    trial: TrialSpec
    env: dict[str, Any]
    snapshot: dict[str, Any]
    shape: str  # the host's resources (``ray_pool.shape``)

    def on(self, ray: Any, host: Host) -> str | None:
        """Start it on ``host`` (an idle one): its node's id, None if the host is unusable."""
        try:
            node = ray.get(
                host.actor.start.remote(self.key, self.trial, self.env, self.snapshot),
                timeout=GET_SECONDS,
            )
        except Exception:  # noqa: BLE001 - dead or stuck: never use it again
            node = None
        if node is None:
            kill_quietly(host.actor)
        return None if node is None else str(node)


class RayRuntime(Runtime):
    name = "ray"

    def __init__(self, address: str | None = None, containers: bool | None = None) -> None:
        from trainchain.runtimes.ray_containers import wanted

        self.address = address or operator_settings().ray_address or "auto"
        self.containers = wanted() if containers is None else containers
        self._snapshots: dict[str, Any] = {}  # listing digest -> [ObjectRef] of the tarball
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"ray ({self.address}{', containers' if self.containers else ''})"

    # -- cluster -------------------------------------------------------------------------------
    def _ray(self) -> Any:
        from trainchain.extras import require

        require("ray", "--runtime ray")
        import ray

        with self._lock:
            if not ray.is_initialized():
                try:
                    ray.init(
                        address=self.address,
                        namespace=NAMESPACE,
                        log_to_driver=False,
                        logging_level=logging.ERROR,
                    )
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise RuntimeUnavailableError(
                        f"no Ray cluster answers at {self.address!r} ({exc}); start one with "
                        "`ray start --head` or set --ray-address / TRAINCHAIN_RAY_ADDRESS"
                    ) from exc
        return ray

    # -- Runtime -------------------------------------------------------------------------------
    def provision(self, spec: EnvSpec, log: LogSink) -> Environment:
        """Build the environment (a venv, or the image with containers) once on some node now
        (errors surface in detect); every other node builds or reuses its own copy, under the
        same lock, at its first attempt."""
        ray = self._ray()
        task = ray.remote(_provision_on_node).options(num_cpus=0, max_retries=0)
        try:
            lines, key, created, image = ray.get(task.remote(asdict(spec), self.containers))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            raise cause from None
        for line in lines:
            log(line)
        return Environment(
            runtime=self.name, key=key, created=created, spec=asdict(spec), image=image
        )

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        ray = self._ray()
        options = host_options(trial.resources)
        for directory in (trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        trial.log_path.parent.mkdir(parents=True, exist_ok=True)
        (trial.output_dir.parent / STORAGE_PROBE).write_text(trial.run_id)
        launch = Launch(
            key=f"{trial.run_id}:{trial.trial}:{trial.attempt}:{uuid.uuid4().hex[:6]}",
            trial=trial,
            env={"key": env.key, "spec": env.spec, "image": env.image},
            snapshot=self._snapshot(ray, trial.workdir),
            shape=shape(options),
        )
        while (host := POOL.take(launch.shape, IDLE_SECONDS * 0.8)) is not None:
            node = launch.on(ray, host)
            if node is not None:  # an idle host took it: no new Ray worker
                return RayProcess(ray, launch, host, node=node)
        check_fits(ray.nodes(), options)
        name = f"host-{uuid.uuid4().hex[:12]}"
        actor = (
            ray.remote(TrialHost)
            .options(
                name=name,
                namespace=NAMESPACE,
                lifetime="detached",  # survives the controller: resume re-attaches
                max_restarts=0,
                max_concurrency=8,  # pulls and signals while a build runs
                **options,
            )
            .remote(IDLE_SECONDS)
        )
        started = actor.start.remote(launch.key, trial, launch.env, launch.snapshot)
        return RayProcess(ray, launch, Host(name, actor), started=started)

    def reattach(self, process_id: str, trial: TrialSpec) -> TrialProcess | None:
        ray = self._ray()
        host = self._holder(ray, process_id)
        if host is None:
            return None  # gone with its node, or collected
        offsets = tuple(
            p.stat().st_size if p.exists() else 0 for p in (trial.events_path, trial.log_path)
        )
        launch = Launch(process_id, trial, {}, {}, shape(host_options(trial.resources)))
        return RayProcess(ray, launch, host, offsets=(offsets[0], offsets[1]))

    def reap(self, process_id: str, run_id: str) -> bool:
        if not process_id.startswith(f"{run_id}:"):
            return False
        ray = self._ray()
        host = self._holder(ray, process_id)
        if host is None:
            return False
        try:
            return bool(ray.get(host.actor.finish.remote(process_id), timeout=GET_SECONDS * 6))
        except ray.exceptions.RayError:
            return False

    def is_alive(self, process_id: str, run_id: str) -> bool | None:
        """Whether a host actor of the cluster still holds the attempt (running, or ended and
        not yet collected: no evidence that its controller is gone)."""
        if not process_id.startswith(f"{run_id}:"):
            return None
        return self._holder(self._ray(), process_id) is not None

    def find_trial_actors(self, run_id: str) -> list[str]:
        """Attempts of ``run_id`` still held by a host actor (running, or ended and not yet
        collected): what tests and ``monitor`` look for after a run."""
        return [key for key, _ in self._held(self._ray()) if key.startswith(f"{run_id}:")]

    def _holder(self, ray: Any, key: str) -> Host | None:
        return next((host for held, host in self._held(ray) if held == key), None)

    def _held(self, ray: Any) -> list[tuple[str, Host]]:
        """(attempt, host) for every host actor of the cluster holding an attempt."""
        names = [
            a["name"]
            for a in ray.util.list_named_actors(all_namespaces=True)
            if a["namespace"] == NAMESPACE and str(a["name"]).startswith("host-")
        ]
        found = []
        for name in names:
            try:
                actor = ray.get_actor(name, namespace=NAMESPACE)
                key = ray.get(actor.current.remote(), timeout=GET_SECONDS * 6)
            except (ValueError, ray.exceptions.RayError):
                continue  # gone meanwhile, or its node is
            if isinstance(key, str) and key != "(leaving)":
                found.append((key, Host(name, actor)))
        return found

    def _snapshot(self, ray: Any, workdir: Path) -> dict[str, Any]:
        """The commit's working copy in the object store, put once per content (per controller);
        each node fetches it only the first time (it caches the unpacked copy)."""
        digest = listing_digest(workdir)
        with self._lock:
            ref = self._snapshots.get(digest)
            if ref is None:
                ref = self._snapshots[digest] = ray.put(pack(workdir))
        return {"digest": digest, "ref": [ref]}  # in a list: Ray must not resolve it eagerly


def _provision_on_node(
    spec: dict[str, Any], containers: bool = False
) -> tuple[list[str], str, bool, str]:
    from trainchain.runtimes.ray_node import NodeRuntime, _env_spec

    lines: list[str] = []
    if containers:
        from trainchain.runtimes.docker import DockerRuntime
        from trainchain.runtimes.ray_containers import provision_image

        docker = DockerRuntime()
        try:
            env = provision_image(docker, _env_spec(spec), lines.append)
        finally:
            docker.close()
    else:
        env = NodeRuntime().provision(_env_spec(spec), lines.append)
    return lines, env.key, env.created, env.image


class RayProcess(TrialProcess):
    """An attempt on a host actor; a thread pulls its events and log into the controller's
    files, then ends the attempt on the host and gives the host back to the pool."""

    def __init__(
        self,
        ray: Any,
        launch: Launch,
        host: Host,
        started: Any = None,
        offsets: tuple[int, int] = (0, 0),
        node: str | None = None,
    ) -> None:
        self.id = launch.key
        self.node = node
        self._ray, self._launch, self._host, self._started = ray, launch, host, started
        self._trial = launch.trial
        self._offsets = offsets
        self._forced: tuple[OutcomeKind, str] | None = None
        self._outcome: Outcome | None = None
        self._node_lost = False
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, name=f"ray-{self.id}", daemon=True)
        self._thread.start()

    # -- TrialProcess ------------------------------------------------------------------------
    def poll(self) -> Outcome | None:
        return self._outcome if self._done.is_set() else None

    def wait(self, timeout: float | None = None) -> Outcome | None:
        self._done.wait(timeout)
        return self.poll()

    def stop(self, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (OutcomeKind.STOPPED, reason)
        self._signal(signal.SIGTERM)
        if not self._done.wait(STOP_GRACE_SECONDS):
            self._signal(signal.SIGKILL)

    def kill(self, kind: OutcomeKind, reason: str) -> None:
        with self._lock:
            self._forced = self._forced or (kind, reason)
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        # fire and forget: a dead actor has nothing to end
        self._host.actor.signal.remote(self.id, int(sig))

    # -- pump --------------------------------------------------------------------------------
    def _get(self, call: Callable[[], Any]) -> Any:
        """Wait for a reply; keep waiting on a slow node until Ray declares the actor dead.

        An actor that is only unavailable (its node unreachable for a moment) is asked again,
        until ``UNAVAILABLE_SECONDS``: declaring it lost too early would start a second attempt
        next to one that still trains.
        """
        errors = self._ray.exceptions
        ref, unavailable_since = call(), None
        while True:
            try:
                return self._ray.get(ref, timeout=GET_SECONDS)
            except errors.GetTimeoutError:
                continue
            except errors.ActorUnavailableError:
                now = time.monotonic()
                unavailable_since = unavailable_since or now
                if now - unavailable_since > UNAVAILABLE_SECONDS:
                    raise
                time.sleep(0.5)
                ref = call()

    def _pump(self) -> None:
        errors = self._ray.exceptions
        outcome: Outcome
        dead = False
        try:
            if self._started is not None:
                self.node = self._placed()
            outcome = self._follow()
        except (errors.RayActorError, errors.ActorUnavailableError) as exc:
            dead = True
            where = f"Ray node {self.node}" if self.node else "its Ray node"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            outcome = Outcome(
                OutcomeKind.LOST, reason=f"the attempt was lost with {where} ({first[:200]})"
            )
        except Exception as exc:  # noqa: BLE001 - any other failure ends the attempt as lost
            dead = True  # never reuse a host that could not be followed
            log.warning("following Ray attempt %s failed: %s", self.id, exc)
            outcome = Outcome(OutcomeKind.LOST, reason=f"following the Ray attempt failed: {exc}")
        if dead or self._node_lost:
            kill_quietly(self._host.actor)
        elif outcome.kind != OutcomeKind.LOST:
            self._give_back()
        # else the host moved on to another attempt (this one was reaped): leave it alone
        with self._lock:
            if self._forced is not None:
                kind, reason = self._forced
                outcome = Outcome(kind, exit_code=outcome.exit_code, reason=reason)
            self._outcome = outcome
        self._done.set()

    def _placed(self) -> str:
        """Wait for the new host to be placed and to start the attempt; a host of the same
        resources given back meanwhile takes the attempt instead (the new one is removed)."""
        started, errors = self._started, self._ray.exceptions
        waiter = POOL.wait_for(self._launch.shape)
        try:
            while True:
                ready, _ = self._ray.wait([started], timeout=0)
                if ready:
                    node = self._get(lambda: started)
                    if node is None:
                        raise errors.RayError("a new host actor refused its first attempt")
                    return str(node)
                if not waiter.event.wait(0.1) or waiter.offered is None:
                    continue
                offered, waiter.offered = waiter.offered, None
                node = self._launch.on(self._ray, offered)
                if node is not None:
                    kill_quietly(self._host.actor)  # still queued for resources: not needed
                    self._host = offered
                    return node
                POOL.withdraw(waiter)
                waiter = POOL.wait_for(self._launch.shape)
        finally:
            POOL.withdraw(waiter)

    def _give_back(self) -> None:
        """End the attempt on its host (its node-local files go) and pool the host."""
        try:
            self._ray.get(self._host.actor.finish.remote(self.id), timeout=GET_SECONDS)
        except Exception:  # noqa: BLE001 - the node may be gone
            log.debug("finishing a Ray attempt failed", exc_info=True)
            kill_quietly(self._host.actor)
            return
        POOL.give_back(self._launch.shape, self._host)

    def _node_loss(self, outcome: Outcome) -> Outcome:
        """A SIGKILL the controller did not send is what the node's supervisor does when the
        raylet dies (the actor may still answer for a moment): once Ray declares the node dead,
        the attempt was lost with it, not killed. Any other SIGKILL (the OOM killer, a person)
        costs at most ``NODE_VERDICT_SECONDS`` of waiting for that verdict."""
        if outcome.kind != OutcomeKind.KILLED or outcome.signal != signal.SIGKILL:
            return outcome
        if self._forced is not None or not self.node:
            return outcome
        deadline = time.monotonic() + NODE_VERDICT_SECONDS
        while time.monotonic() < deadline:
            alive = {n.get("NodeID"): n.get("Alive") for n in self._ray.nodes()}
            if alive.get(self.node) is False or self.node not in alive:
                self._node_lost = True
                return Outcome(
                    OutcomeKind.LOST,
                    reason=f"the attempt was lost with Ray node {self.node} (its raylet died)",
                )
            time.sleep(0.5)
        return outcome

    def _follow(self) -> Outcome:
        events_offset, log_offset = self._offsets
        with (
            open(self._trial.events_path, "ab") as events,
            open(self._trial.log_path, "ab", buffering=0) as log_file,
        ):
            while True:
                pull = partial(
                    self._host.actor.pull.remote, self.id, events_offset, log_offset, PULL_SECONDS
                )
                reply = self._get(pull)
                self.node = reply["node"]
                if reply["events"]:
                    events.write(reply["events"])
                    events.flush()
                    events_offset += len(reply["events"])
                if reply["log"]:
                    log_file.write(reply["log"])
                    log_offset += len(reply["log"])
                if reply["outcome"] is not None:
                    outcome: Outcome = reply["outcome"]
                    return self._node_loss(outcome)
