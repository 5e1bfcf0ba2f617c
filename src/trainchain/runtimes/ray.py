"""RayRuntime: each attempt is a detached Ray actor on whichever node has its resources.

The controller (this process) connects to a running cluster (``--ray-address`` /
``TRAINCHAIN_RAY_ADDRESS``: ``auto``, ``host:6379`` or ``ray://host:10001``). Per attempt it
creates a named, detached ``TrialHost`` actor asking for the trial's CPUs and memory; the actor
builds the venv on its node, unpacks the snapshot (sent once through the object store) and runs
the agent there (``ray_node``). A pump thread pulls events and log lines into the controller's
files, so live curves and the pruner read them as on the other runtimes. Outputs and
checkpoints are written straight to the run's directory, which must be on storage every node
mounts (``TRAINCHAIN_STORAGE``; a probe fails the attempt clearly when a node cannot see it).

The actor dying (its node lost) ends the attempt ``lost``; the runner restarts it elsewhere from
the last checkpoint. Detached actors outlive a dead controller: ``reattach`` follows them again.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from trainchain.errors import ConfigError, RuntimeUnavailableError
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
from trainchain.runtimes.ray_node import STORAGE_PROBE, TrialHost, listing_digest, pack

log = logging.getLogger(__name__)
NAMESPACE = "trainchain"
PULL_SECONDS = 1.0  # a pull waits up to this long on the node for something new
GET_SECONDS = 5.0  # one wait for the actor; retried until Ray declares it dead
UNAVAILABLE_SECONDS = 60.0  # an unreachable actor's node is declared dead well before this
NODE_VERDICT_SECONDS = 45.0  # how long a SIGKILLed attempt waits for Ray to say its node died
STOP_GRACE_SECONDS = 10.0
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def memory_bytes(text: str | None) -> int | None:
    """``"4g"`` -> 4 GiB in bytes (Ray's ``memory`` resource); None stays None."""
    if not text:
        return None
    match = _MEMORY.match(text)
    if not match:
        raise ConfigError(f"resources.memory {text!r} is not a size: write e.g. 512m or 4g")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    return int(float(match.group(1)) * scale[match.group(2).lower()])


class RayRuntime(Runtime):
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address or os.environ.get("TRAINCHAIN_RAY_ADDRESS") or "auto"
        self._snapshots: dict[str, Any] = {}  # listing digest -> [ObjectRef] of the tarball
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"ray ({self.address})"

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

    def _check_fits(self, ray: Any, cpus: float, memory: int | None) -> None:
        """A trial asking for more than any node has would wait forever: say so instead."""
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        if any(
            n["Resources"].get("CPU", 0) >= cpus
            and (memory is None or n["Resources"].get("memory", 0) >= memory)
            for n in nodes
        ):
            return
        largest = max((n["Resources"].get("CPU", 0) for n in nodes), default=0)
        raise ConfigError(
            f"a trial asks for {cpus:g} CPUs"
            + (f" and {memory} bytes of memory" if memory else "")
            + f" but the largest live Ray node has {largest:g} CPUs: lower resources.cpus / "
            "resources.memory in trainchain.yaml or add a bigger node"
        )

    # -- Runtime -------------------------------------------------------------------------------
    def provision(self, spec: EnvSpec, log: LogSink) -> Environment:
        """Build the environment once on some node now (errors surface in detect); every other
        node builds or reuses its own copy, under the same lock, at its first attempt."""
        ray = self._ray()
        task = ray.remote(_provision_on_node).options(num_cpus=0, max_retries=0)
        try:
            lines, key, created = ray.get(task.remote(asdict(spec)))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            raise cause from None
        for line in lines:
            log(line)
        return Environment(runtime=self.name, key=key, created=created, spec=asdict(spec))

    def start(self, env: Environment, trial: TrialSpec) -> TrialProcess:
        ray = self._ray()
        cpus = float(trial.resources.cpus or 1)
        memory = memory_bytes(trial.resources.memory)
        self._check_fits(ray, cpus, memory)
        for directory in (trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
            directory.mkdir(parents=True, exist_ok=True)
        trial.log_path.parent.mkdir(parents=True, exist_ok=True)
        (trial.output_dir.parent / STORAGE_PROBE).write_text(trial.run_id)
        snapshot = self._snapshot(ray, trial.workdir)
        name = f"{trial.run_id}:{trial.trial}:{trial.attempt}:{uuid.uuid4().hex[:6]}"
        options: dict[str, Any] = {
            "name": name,
            "namespace": NAMESPACE,
            "lifetime": "detached",  # survives the controller: resume re-attaches
            "num_cpus": cpus,
            "max_restarts": 0,
            "max_concurrency": 4,  # pull and signal while a build runs
        }
        if memory:
            options["memory"] = memory
        actor = ray.remote(TrialHost).options(**options).remote()
        started = actor.start.remote(trial, {"key": env.key, "spec": env.spec}, snapshot)
        return RayProcess(ray, actor, name, trial, started)

    def reattach(self, process_id: str, trial: TrialSpec) -> TrialProcess | None:
        ray = self._ray()
        try:
            actor = ray.get_actor(process_id, namespace=NAMESPACE)
        except ValueError:
            return None  # gone with its node, or collected
        offsets = tuple(
            p.stat().st_size if p.exists() else 0 for p in (trial.events_path, trial.log_path)
        )
        return RayProcess(ray, actor, process_id, trial, None, (offsets[0], offsets[1]))

    def reap(self, process_id: str, run_id: str) -> bool:
        if not process_id.startswith(f"{run_id}:"):
            return False
        ray = self._ray()
        try:
            actor = ray.get_actor(process_id, namespace=NAMESPACE)
        except ValueError:
            return False
        _close(ray, actor)
        return True

    def find_trial_actors(self, run_id: str) -> list[str]:
        """Names of the live attempt actors of ``run_id`` (tests and ``monitor``)."""
        ray = self._ray()
        found = ray.util.list_named_actors(all_namespaces=True)
        return [
            a["name"]
            for a in found
            if a["namespace"] == NAMESPACE and str(a["name"]).startswith(f"{run_id}:")
        ]

    def _snapshot(self, ray: Any, workdir: Path) -> dict[str, Any]:
        """The commit's working copy in the object store, put once per content (per controller);
        each node fetches it only the first time (it caches the unpacked copy)."""
        digest = listing_digest(workdir)
        with self._lock:
            ref = self._snapshots.get(digest)
            if ref is None:
                ref = self._snapshots[digest] = ray.put(pack(workdir))
        return {"digest": digest, "ref": [ref]}  # in a list: Ray must not resolve it eagerly


def _provision_on_node(spec: dict[str, Any]) -> tuple[list[str], str, bool]:
    from trainchain.runtimes.ray_node import NodeRuntime, _env_spec

    lines: list[str] = []
    env = NodeRuntime().provision(_env_spec(spec), lines.append)
    return lines, env.key, env.created


def _close(ray: Any, actor: Any) -> None:
    """Kill the attempt's processes, remove its node-local files, then the actor itself."""
    try:
        ray.get(actor.close.remote(), timeout=GET_SECONDS)
    except Exception:  # noqa: BLE001 - the node may be gone; killing the actor is what matters
        log.debug("closing a Ray attempt actor failed", exc_info=True)
    try:
        ray.kill(actor)
    except Exception:  # noqa: BLE001
        log.debug("killing a Ray attempt actor failed", exc_info=True)


class RayProcess(TrialProcess):
    """An attempt in a Ray actor; a thread pulls its events and log into the controller's files."""

    def __init__(
        self,
        ray: Any,
        actor: Any,
        name: str,
        trial: TrialSpec,
        started: Any,
        offsets: tuple[int, int] = (0, 0),
    ) -> None:
        self.id = name
        self.node: str | None = None
        self._ray, self._actor, self._trial, self._started = ray, actor, trial, started
        self._offsets = offsets
        self._forced: tuple[OutcomeKind, str] | None = None
        self._outcome: Outcome | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, name=f"ray-{name}", daemon=True)
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
        self._actor.signal.remote(int(sig))  # fire and forget: a dead actor has nothing to end

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
        try:
            if self._started is not None:
                started = self._started
                self.node = self._get(lambda: started)
            outcome = self._follow()
        except (errors.RayActorError, errors.ActorUnavailableError) as exc:
            where = f"Ray node {self.node}" if self.node else "its Ray node"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            outcome = Outcome(
                OutcomeKind.LOST, reason=f"the attempt was lost with {where} ({first[:200]})"
            )
        except Exception as exc:  # noqa: BLE001 - any other failure ends the attempt as lost
            log.warning("following Ray attempt %s failed: %s", self.id, exc)
            outcome = Outcome(OutcomeKind.LOST, reason=f"following the Ray attempt failed: {exc}")
        _close(self._ray, self._actor)
        with self._lock:
            if self._forced is not None:
                kind, reason = self._forced
                outcome = Outcome(kind, exit_code=outcome.exit_code, reason=reason)
            self._outcome = outcome
        self._done.set()

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
                pull = partial(self._actor.pull.remote, events_offset, log_offset, PULL_SECONDS)
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
