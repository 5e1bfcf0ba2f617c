"""The node side of the Ray runtime: long-lived host actors, each holding one attempt's
resources on the node Ray chose and running attempts one after another.

For each attempt the host builds (or reuses) the venv for the environment hash on its node with the
local runtime's provisioning (same cache, same file lock), unpacks the commit's snapshot once per
node, and starts the attempt through the local runtime inside a small supervisor that kills the
training when the actor dies (a raylet killed on a machine that stays up must not leave an orphan
training next to the restarted attempt). Events and log lines are written to node-local files and
pulled by the controller (``pull``): only checkpoints and outputs need storage every node reaches.

This module must not import ``ray`` at module level: the class is wrapped by the controller.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import sys
import tarfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from trainchain import paths
from trainchain.runtimes.base import (
    Environment,
    EnvSpec,
    Outcome,
    TrialProcess,
    TrialSpec,
)
from trainchain.runtimes.local import LocalProcess, LocalRuntime, _file_lock
from trainchain.settings import operator_settings
from trainchain.states import OutcomeKind

PULL_LIMIT = 4 << 20  # bytes of events or log returned by one pull
PULL_STEP = 0.05  # seconds between looks at the files during a long poll
# An idle host holds its resources: long enough for the next trial of a run to take it, short
# enough that another controller's attempts do not wait long for them.
IDLE_SECONDS = operator_settings().ray_idle_seconds
STORAGE_PROBE = ".trainchain-storage"

# Runs with the node's interpreter, standard library only. It starts the attempt in its own
# process group and waits; when its parent (the actor's worker) or the worker's parent (the
# node's raylet) vanishes it kills the group: a worker can outlive its raylet for a while, and
# the training must not go on next to its replacement. A SIGTERM to the group reaches the
# training, which ends as it likes; the supervisor then reports its end.
# Shared by the node-side scripts: the parent pid of ``pid`` from /proc (None: it is gone).
PARENT_OF = """\
def parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
"""
SUPERVISOR = (
    """\
import os, signal, subprocess, sys
parent = int(sys.argv[1])
"""
    + PARENT_OF
    + """\
raylet = parent_of(parent)
def alive(pid):
    return pid is None or parent_of(pid) is not None
signal.signal(signal.SIGTERM, lambda *_: None)
proc = subprocess.Popen(sys.argv[2:])
while True:
    try:
        code = proc.wait(0.25)
        break
    except subprocess.TimeoutExpired:
        if os.getppid() != parent or not alive(raylet):
            os.killpg(0, signal.SIGKILL)
if code < 0:
    if -code != signal.SIGKILL:
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""
)


class NodeRuntime(LocalRuntime):
    """The local runtime on a Ray node, its command wrapped in the supervisor."""

    def command(self, env: Environment, trial: TrialSpec) -> list[str]:
        wrapped = super().command(env, trial)
        # -S: no site-packages to scan (the supervisor is standard library): a faster start
        return [sys.executable, "-S", "-c", SUPERVISOR, str(os.getpid()), *wrapped]


class TrialHost:
    """A long-lived Ray actor holding one attempt's resources on its node, reused across
    attempts (Ray Tune's ``reuse_actors``): a new attempt costs two calls, not a new Ray worker.

    It runs one attempt at a time: ``start`` takes an idle host for an attempt (None when it
    is busy or leaving), ``pull`` streams the attempt's events and log, ``finish`` ends it and
    makes the host idle again. An idle host removes itself after ``idle_seconds`` so its
    resources go back to the cluster.
    """

    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Event()  # set when the attempt ends: a long poll returns at once
        self.key: str | None = None  # the attempt claimed or running here
        self.since = time.monotonic()  # when it became idle, or was claimed
        self.process: TrialProcess | None = None
        self.failure: str | None = None
        self.root: Path | None = None
        self.node = _node_id()
        self.gpu_ids = _gpu_ids()  # what Ray gave this actor, for its lifetime
        self.docker: Any = None  # the node's Docker runtime, made at its first container attempt
        self.idle_seconds = idle_seconds
        threading.Thread(target=self._expire, daemon=True).start()

    # -- lifecycle ---------------------------------------------------------------------------
    def current(self) -> str | None:
        with self.lock:
            return self.key

    def start(
        self, key: str, trial: TrialSpec, env: dict[str, Any], snapshot: dict[str, Any]
    ) -> str | None:
        """Take this host for attempt ``key`` and launch it in a thread (a build takes minutes);
        this node's id, or None when the host is busy or leaving."""
        root = paths.home() / "ray-attempts" / f"{trial.run_id}-{trial.trial}-{trial.attempt}"
        with self.lock:
            if self.key is not None:
                return None
            self.key, self.root, self.process, self.failure = key, root, None, None
            self.changed.clear()
        shutil.rmtree(root, ignore_errors=True)
        (root / "events").mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(target=self._launch, args=(trial, env, snapshot), daemon=True)
        thread.start()
        return self.node

    def finish(self, key: str) -> bool:
        """End attempt ``key`` (kill what still runs), remove its node-local files (the
        controller has them) and become idle. True when something was still running."""
        with self.lock:
            if self.key != key:
                return False
            process, root = self.process, self.root
            self.key, self.process, self.root = None, None, None
            self.since = time.monotonic()
        running = process is not None and process.poll() is None
        if process is not None:
            _kill(process)
            threading.Thread(target=process.wait, args=(30,), daemon=True).start()  # reap it
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        return running

    def _expire(self) -> None:
        """Leave the cluster when idle too long: an idle host still holds its CPUs and GPUs."""
        while True:
            time.sleep(min(5.0, self.idle_seconds / 2))
            with self.lock:
                if self.key is not None or time.monotonic() - self.since < self.idle_seconds:
                    continue
                self.key = "(leaving)"  # nobody takes it any more
            import ray

            ray.kill(ray.get_runtime_context().current_actor)
            return

    # -- the attempt -------------------------------------------------------------------------
    def _launch(self, trial: TrialSpec, env: dict[str, Any], snapshot: dict[str, Any]) -> None:
        root = self.root
        assert root is not None
        log_path = root / "attempt.log"
        try:
            with open(log_path, "a", encoding="utf-8") as log:
                gpus = f", GPU {','.join(self.gpu_ids)}" if self.gpu_ids else ""
                log.write(
                    f"[trainchain] attempt on Ray node {self.node} ({socket.gethostname()}{gpus})\n"
                )
                log.flush()
                _check_storage(trial)
                workdir = _workdir(snapshot, root / "work")
                node_trial = replace(
                    trial,
                    workdir=workdir,
                    events_path=root / "events" / "events.jsonl",
                    log_path=log_path,
                    gpu_ids=self.gpu_ids,  # exactly Ray's GPUs reach the training, or none
                )
                if env.get("image"):
                    process = self._start_container(env, node_trial, log)
                else:
                    runtime = NodeRuntime()
                    environment = _environment(runtime, env, log)
                    process = runtime.start(environment, node_trial)
            with self.lock:
                if self.root is not root:  # finished (stopped) while it started
                    _kill(process)
                    return
                self.process = process
            threading.Thread(target=self._watch, args=(process,), daemon=True).start()
        except Exception as exc:  # noqa: BLE001 - reported to the controller as the outcome
            message = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"[trainchain] could not start on node {self.node}: {message}\n")
            with self.lock:
                self.failure = f"on Ray node {self.node}: {message}"
            self.changed.set()

    def _start_container(
        self, env: dict[str, Any], trial: TrialSpec, log: io.TextIOBase
    ) -> TrialProcess:
        from trainchain.runtimes.ray_containers import start_container

        if self.docker is None:
            from trainchain.runtimes.docker import DockerRuntime

            self.docker = DockerRuntime()
        process: TrialProcess = start_container(self.docker, env, trial, log)
        return process

    def _watch(self, process: TrialProcess) -> None:
        process.wait()
        self.changed.set()

    def pull(
        self, key: str, events_offset: int, log_offset: int, wait: float = 0.0
    ) -> dict[str, Any]:
        """New events and log bytes from the offsets, and the outcome once everything is read.

        Waits up to ``wait`` seconds for something new (a long poll: the controller learns of
        an epoch within ``PULL_STEP`` and of the end at once)."""
        deadline = time.monotonic() + wait
        while True:
            reply = self._pull(key, events_offset, log_offset)
            left = deadline - time.monotonic()
            if reply["events"] or reply["log"] or reply["outcome"] or left <= 0:
                return reply
            self.changed.wait(min(PULL_STEP, left))

    def _pull(self, key: str, events_offset: int, log_offset: int) -> dict[str, Any]:
        with self.lock:
            current, process, failure, root = self.key, self.process, self.failure, self.root
        if current != key or root is None:  # finished by someone else (a reap), or never here
            gone = Outcome(OutcomeKind.LOST, reason=f"attempt {key} is no longer on this host")
            return {"events": b"", "log": b"", "outcome": gone, "node": self.node}
        outcome: Outcome | None = None
        if failure is not None:
            outcome = Outcome(OutcomeKind.FAILED, reason=failure)
        elif process is not None:
            outcome = process.poll()
        events = _read(root / "events" / "events.jsonl", events_offset)
        log = _read(root / "attempt.log", log_offset)
        if len(events) == PULL_LIMIT or len(log) == PULL_LIMIT:
            outcome = None  # more to read first
        return {"events": events, "log": log, "outcome": outcome, "node": self.node}

    def signal(self, key: str, sig: int) -> None:
        with self.lock:
            process = self.process if self.key == key else None
        if process is not None:
            _send(process, sig)


def _send(process: TrialProcess, sig: int) -> None:
    if isinstance(process, LocalProcess):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.proc.pid, sig)
    elif sig == signal.SIGKILL:
        process.kill(OutcomeKind.KILLED, "killed")  # a container: through its engine
    else:
        threading.Thread(target=process.stop, args=("stopped",), daemon=True).start()


def _kill(process: TrialProcess) -> None:
    if process.poll() is None:
        _send(process, signal.SIGKILL)


def _node_id() -> str:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # noqa: BLE001 - outside Ray (unit use): the host is the node
        return socket.gethostname()


def _gpu_ids() -> tuple[str, ...] | None:
    try:
        from trainchain.runtimes.gpus import assigned_by_ray

        return assigned_by_ray()
    except Exception:  # noqa: BLE001 - outside Ray (unit use): the runtime's own choice
        return None


def _check_storage(trial: TrialSpec) -> None:
    """Outputs and checkpoints must land where the controller (and other nodes) can read them."""
    probe = trial.output_dir.parent / STORAGE_PROBE
    try:
        seen = probe.read_text().strip()
    except OSError:
        seen = ""
    if seen != trial.run_id:
        raise RuntimeError(
            f"this node cannot see the run's storage {trial.output_dir.parent} (written by the "
            "controller): put TRAINCHAIN_STORAGE on a filesystem every node mounts at the same "
            "path (NFS, CephFS, a FUSE mount of a bucket); see docs/cluster.md"
        )


def _environment(runtime: LocalRuntime, env: dict[str, Any], log: io.TextIOBase) -> Environment:
    spec = env.get("spec") or {}
    if not spec:  # nothing to build: the node's own interpreter
        return Environment(runtime="ray", key=str(env.get("key", "")), python=sys.executable)

    def say(line: str) -> None:
        log.write(line + "\n")
        log.flush()

    return runtime.provision(_env_spec(spec), say)


def _env_spec(spec: dict[str, Any]) -> EnvSpec:
    return EnvSpec(
        profile=str(spec["profile"]),
        packages=tuple(spec.get("packages") or ()),
        project_requirements=tuple(spec.get("project_requirements") or ()),
        python=str(spec.get("python") or "3.11"),
    )


def _workdir(snapshot: dict[str, Any], dest: Path) -> Path:
    """Unpack the snapshot once per node (under a lock), then a working tree for this attempt
    that shares the cached files as the controller's trees share the fetched commit's."""
    cache = paths.home() / "snapshots" / str(snapshot["digest"])
    with _file_lock(cache.parent / f".{snapshot['digest']}.lock"):
        if not (cache.parent / f"{snapshot['digest']}.complete").exists():
            import ray

            blob: bytes = ray.get(snapshot["ref"][0])  # fetched from the controller's store
            shutil.rmtree(cache, ignore_errors=True)
            with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
                tar.extractall(cache, filter="tar")
            (cache.parent / f"{snapshot['digest']}.complete").touch()
    from trainchain.trials.workspace import fresh_copy  # the local runtime's sharing rules

    return fresh_copy(cache, dest)


def _read(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(PULL_LIMIT)
    except FileNotFoundError:
        return b""


def listing_digest(directory: Path) -> str:
    """A digest of a working copy's listing (paths, sizes, times): cheap, taken per attempt."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        stat = path.lstat()
        rel = path.relative_to(directory).as_posix()
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def pack(directory: Path) -> bytes:
    """The working copy as a gzipped tar (sent once per snapshot through Ray's object store)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
    return buffer.getvalue()
