"""The reviver (``trainchain revive``): find runs whose controller died and resume them.

(The ``monitor`` stage, job6, closes one run's books; the reviver watches every run.) How a
dead controller is recognised (the rule ``trainchain revive`` applies):

1. **The controller lock.** The process executing a run holds an exclusive ``flock`` on
   ``<run dir>/controller.lock`` (``controller_lock``, taken by ``Pipeline.execute``). The kernel
   releases it when that process dies, even by kill -9, so a run marked ``running`` whose lock
   file exists but is free has no controller: it is resumed at once, and an attempt it left
   training is stopped and resumed from its checkpoint by the resume itself.
2. **Without a lock file** (a run started by an older controller) the evidence must come from
   the attempts: an attempt row still ``running`` whose process or container is gone (its
   runtime's ``Runtime.is_alive`` says so), and still so after ``grace`` seconds. A live
   controller records the end of an attempt within a second, so such a row has nobody
   watching it. A run between two attempts with no lock file is never
   touched: nothing proves its controller is gone.

A resume is ``trainchain resume RUN_ID`` in a child process, which takes the lock itself (two
revivers cannot both resume a run); each run is resumed at most ``max_resumes`` times per
reviver, so a controller that keeps dying on a bug is reported instead of restarted forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from trainchain import paths
from trainchain.errors import TrainchainError
from trainchain.runtimes.base import Runtime
from trainchain.states import LockState
from trainchain.store import Store

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


Runtimes = Mapping[str, Runtime]  # runtime name -> the runtime that can answer for it


@dataclass(frozen=True)
class Orphan:
    run_id: str
    reason: str
    directory: Path  # the run's directory (under its own ``storage:`` when it has one)


def find_orphans(store: Store, runtimes: Runtimes, grace: float) -> list[Orphan]:
    """Runs marked running whose controller is gone (the rule in this module's docstring)."""
    found, suspects, dirs = [], {}, {}
    for run_id in store.running_run_ids():
        dirs[run_id] = run_dir(run_id, paths.storage_of(store.get_run(run_id).options))
        state = lock_state(dirs[run_id])
        if state == LockState.FREE:
            found.append(Orphan(run_id, "no live process holds its controller lock", dirs[run_id]))
        elif state == LockState.ABSENT:
            dead = _dead_attempts(store, run_id, runtimes)
            if dead:
                suspects[run_id] = dead
    if suspects and grace > 0:
        time.sleep(grace)  # a live controller records those ends well within the grace
    for run_id, dead in suspects.items():
        if dead and dead == _dead_attempts(store, run_id, runtimes):
            found.append(
                Orphan(
                    run_id,
                    f"attempt(s) {sorted(dead)} still marked running, their "
                    f"process gone for {grace:g}s",
                    dirs[run_id],
                )
            )
    return found


def _dead_attempts(store: Store, run_id: str, runtimes: Runtimes) -> set[int]:
    """Attempts marked running whose runtime says they are gone (none without a runtime to
    ask: no evidence either way)."""
    runtime = runtimes.get((store.get_run(run_id).environment or {}).get("runtime") or "local")
    if runtime is None:
        return set()
    dead = set()
    for trial in store.trials(run_id):
        for attempt in trial.attempts:
            if attempt.outcome != "running" or not attempt.process_id:
                continue
            if runtime.is_alive(attempt.process_id, run_id) is False:
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
        log_path = orphan.directory / f"revive-resume-{count + 1}.log"
        with open(log_path, "ab") as out:
            self.running[orphan.run_id] = subprocess.Popen(
                [sys.executable, "-m", "trainchain", "resume", orphan.run_id, "--quiet"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a stopped reviver leaves the resumed run alone
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


class Reviver:
    """One pass (``--once``) or a watch: the runtimes' death events plus a periodic pass."""

    def __init__(
        self,
        store: Store,
        runtimes: Sequence[Runtime] = (),
        grace: float = 5.0,
        max_resumes: int = 3,
        say: Callable[[str], None] = log.info,
    ) -> None:
        self.store, self.grace, self.say = store, grace, say
        self.runtimes = {runtime.name: runtime for runtime in runtimes}
        self.resumer = Resumer(max_resumes=max_resumes, say=say)

    def pass_once(self) -> list[Orphan]:
        """Resume every orphaned run found now; return them."""
        self.resumer.reap()
        for runtime in self.runtimes.values():
            for line in runtime.abnormal_ends():
                self.say(line)
        orphans = [
            o
            for o in find_orphans(self.store, self.runtimes, self.grace)
            if o.run_id not in self.resumer.running
        ]
        for orphan in orphans:
            self.resumer.resume(orphan)
        return orphans

    def watch(self, interval: float, stop: threading.Event) -> None:
        """Until ``stop`` is set: a pass every ``interval`` seconds and one as soon as a
        runtime reports a trial that died abnormally."""
        died: queue.Queue[str] = queue.Queue()
        for runtime in self.runtimes.values():
            threading.Thread(
                target=runtime.follow_deaths,
                args=(died.put, stop),
                daemon=True,
                name=f"{runtime.name}-deaths",
            ).start()
        while not stop.is_set():
            self.pass_once()
            with contextlib.suppress(queue.Empty):
                run_id = died.get(timeout=interval)
                self.say(f"run {run_id}: a trial died abnormally")
