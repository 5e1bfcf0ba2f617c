"""The monitor (job6 as a service): find runs whose controller died and resume them.

How a dead controller is recognised (the rule ``trainchain monitor`` applies):

1. **The controller lock.** The process executing a run holds an exclusive ``flock`` on
   ``<run dir>/controller.lock`` (``controller_lock``, taken by ``Pipeline.execute``). The kernel
   releases it when that process dies, even by kill -9, so a run marked ``running`` whose lock
   file exists but is free has no controller: it is resumed at once, and an attempt it left
   training is stopped and resumed from its checkpoint by the resume itself.
2. **Without a lock file** (a run started by an older controller) the evidence must come from
   the attempts: an attempt row still ``running`` whose process or container is gone, and still
   so after ``grace`` seconds. A live controller records the end of an attempt within a second,
   so such a row has nobody watching it. A run between two attempts with no lock file is never
   touched: nothing proves its controller is gone.

A resume is ``trainchain resume RUN_ID`` in a child process, which takes the lock itself (two
monitors cannot both resume a run); each run is resumed at most ``max_resumes`` times per
monitor, so a controller that keeps dying on a bug is reported instead of restarted forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from trainchain import paths
from trainchain.errors import TrainchainError
from trainchain.states import LockState

log = logging.getLogger(__name__)
LOCK_NAME = "controller.lock"


class RunBusyError(TrainchainError):
    """Another live process is already executing this run."""

    http_status = 409


def run_dir(run_id: str, storage: str | None = None) -> Path:
    return paths.run_dir(run_id, storage)


@contextlib.contextmanager
def controller_lock(directory: Path) -> Iterator[None]:
    """Hold the run's controller lock while executing it; ``RunBusyError`` if another has it."""
    directory.mkdir(parents=True, exist_ok=True)
    fh = open(directory / LOCK_NAME, "a+")  # noqa: SIM115 - held for the whole block
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        holder = _holder(fh)
        fh.close()
        raise RunBusyError(
            f"run {directory.name} is already being executed by process {holder}: wait for it to "
            f"end, or stop it (kill {holder}) before `trainchain resume {directory.name}`"
        ) from exc
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def lock_state(directory: Path) -> LockState:
    path = directory / LOCK_NAME
    if not path.exists():
        return LockState.ABSENT
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return LockState.HELD
        fcntl.flock(fh, fcntl.LOCK_UN)
    return LockState.FREE


def _holder(fh: IO[str]) -> str:
    fh.seek(0)
    return fh.read().strip() or "unknown"


def local_process_alive(pid: str, run_id: str) -> bool:
    """True while ``pid`` is a trial process of ``run_id`` (a reused pid does not count)."""
    from trainchain.runtimes.local import trial_process

    return trial_process(pid, run_id) is not None


ContainerAlive = Callable[[str], bool]  # container id -> still running


@dataclass(frozen=True)
class Orphan:
    run_id: str
    reason: str


def find_orphans(store: Any, container_alive: ContainerAlive | None, grace: float) -> list[Orphan]:
    """Runs marked running whose controller is gone (the rule in this module's docstring)."""
    from trainchain.store import Run

    with store.session() as s:
        from sqlalchemy import select

        running = list(s.execute(select(Run.id, Run.options).where(Run.status == "running")))
    found, suspects = [], {}
    for run_id, options in running:
        state = lock_state(run_dir(run_id, paths.storage_of(options)))
        if state == LockState.FREE:
            found.append(Orphan(run_id, "no live process holds its controller lock"))
        elif state == LockState.ABSENT:
            dead = _dead_attempts(store, run_id, container_alive)
            if dead:
                suspects[run_id] = dead
    if suspects and grace > 0:
        time.sleep(grace)  # a live controller records those ends well within the grace
    for run_id, dead in suspects.items():
        if dead and dead == _dead_attempts(store, run_id, container_alive):
            found.append(
                Orphan(
                    run_id,
                    f"attempt(s) {sorted(dead)} still marked running, their "
                    f"process gone for {grace:g}s",
                )
            )
    return found


def _dead_attempts(store: Any, run_id: str, container_alive: ContainerAlive | None) -> set[int]:
    dead = set()
    for trial in store.trials(run_id):
        for attempt in trial.attempts:
            if attempt.outcome != "running" or not attempt.process_id:
                continue
            pid = attempt.process_id
            if pid.isdigit():
                alive = local_process_alive(pid, run_id)
            elif container_alive is not None:
                alive = container_alive(pid)
            else:
                continue  # a container and no engine to ask: no evidence either way
            if not alive:
                dead.add(attempt.id)
    return dead


@dataclass
class Resumer:
    """Starts ``trainchain resume`` children and bounds how often one run is resumed."""

    max_resumes: int = 3
    say: Callable[[str], None] = log.info
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    results: dict[str, int] = field(default_factory=dict)  # run id -> exit code of its resume

    def resume(self, orphan: Orphan) -> bool:
        self.reap()
        if orphan.run_id in self.running:
            return False
        count = self.counts.get(orphan.run_id, 0)
        if count >= self.max_resumes:
            self.say(
                f"run {orphan.run_id}: not resumed again ({count} resumes already); "
                f"inspect it with `trainchain runs show {orphan.run_id}`"
            )
            return False
        self.counts[orphan.run_id] = count + 1
        self.say(f"run {orphan.run_id}: {orphan.reason}; resuming it from its checkpoints")
        log_path = run_dir(orphan.run_id) / f"monitor-resume-{count + 1}.log"
        with open(log_path, "ab") as out:
            self.running[orphan.run_id] = subprocess.Popen(
                [sys.executable, "-m", "trainchain", "resume", orphan.run_id, "--quiet"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a stopped monitor leaves the resumed run alone
            )
        return True

    def reap(self) -> None:
        for run_id, proc in list(self.running.items()):
            code = proc.poll()
            if code is not None:
                del self.running[run_id]
                self.results[run_id] = code
                self.say(f"run {run_id}: resume ended with exit code {code}")

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for proc in list(self.running.values()):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(left)
        self.reap()


class Monitor:
    """One pass (``--once``) or a watch: Docker ``die`` events plus a periodic pass."""

    def __init__(
        self,
        store: Any,
        docker: Any = None,
        grace: float = 5.0,
        max_resumes: int = 3,
        say: Callable[[str], None] = log.info,
    ) -> None:
        self.store, self.docker, self.grace, self.say = store, docker, grace, say
        self.resumer = Resumer(max_resumes=max_resumes, say=say)

    def pass_once(self) -> list[Orphan]:
        """Resume every orphaned run found now; return them."""
        self.resumer.reap()
        if self.docker is not None:
            for line in self._dead_containers():
                self.say(line)
        orphans = [
            o
            for o in find_orphans(self.store, self._container_alive(), self.grace)
            if o.run_id not in self.resumer.running
        ]
        for orphan in orphans:
            self.resumer.resume(orphan)
        return orphans

    def watch(self, interval: float, stop: Any) -> None:
        """Until ``stop`` (a ``threading.Event``) is set: a pass every ``interval`` seconds and
        one as soon as a trainchain container dies abnormally."""
        import queue
        import threading

        died: queue.Queue[str] = queue.Queue()
        if self.docker is not None:
            threading.Thread(
                target=self._follow_events, args=(died, stop), daemon=True, name="docker-events"
            ).start()
        while not stop.is_set():
            self.pass_once()
            with contextlib.suppress(queue.Empty):
                run_id = died.get(timeout=interval)
                self.say(f"run {run_id}: a trial container died abnormally")

    def _follow_events(self, died: Any, stop: Any) -> None:
        from trainchain.runtimes.docker import LABEL_RUN

        filters = {"label": LABEL_RUN, "type": "container", "event": "die"}
        while not stop.is_set():
            try:
                for event in self.docker.events(decode=True, filters=filters):
                    attributes = (event.get("Actor") or {}).get("Attributes") or {}
                    if attributes.get("exitCode", "0") != "0" and attributes.get(LABEL_RUN):
                        died.put(attributes[LABEL_RUN])
                    if stop.is_set():
                        return
            except Exception as exc:  # noqa: BLE001 - the engine restarting: follow it again
                self.say(f"docker events: {exc}; reconnecting")
                stop.wait(2.0)

    def _container_alive(self) -> ContainerAlive | None:
        if self.docker is None:
            return None
        import docker.errors

        def alive(container_id: str) -> bool:
            try:
                return str(self.docker.containers.get(container_id).status) in (
                    "running",
                    "created",
                    "restarting",
                )
            except docker.errors.NotFound:
                return False
            except docker.errors.DockerException:
                return True  # the engine does not answer: no evidence that it died

        return alive

    def _dead_containers(self) -> list[str]:
        from trainchain.runtimes.docker import LABEL_RUN

        lines = []
        for c in self.docker.containers.list(
            all=True, filters={"label": LABEL_RUN, "status": "exited"}
        ):
            state = c.attrs.get("State") or {}
            if state.get("ExitCode") not in (0, None) or state.get("OOMKilled"):
                lines.append(
                    f"container {c.name} of run {c.labels.get(LABEL_RUN)} exited with code "
                    f"{state.get('ExitCode')}{' (OOM)' if state.get('OOMKilled') else ''}"
                )
        return lines
