"""The node side of the Ray runtime: one detached actor per trial attempt, on the node Ray chose.

The actor builds (or reuses) the venv for the environment hash on its node with the local
runtime's provisioning (same cache, same file lock), unpacks the commit's snapshot once per node,
and starts the attempt through the local runtime inside a small supervisor that kills the
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
from trainchain.runtimes.base import Environment, EnvSpec, Outcome, OutcomeKind, TrialSpec
from trainchain.runtimes.local import LocalProcess, LocalRuntime, _file_lock

PULL_LIMIT = 4 << 20  # bytes of events or log returned by one pull
PULL_STEP = 0.05  # seconds between looks at the files during a long poll
STORAGE_PROBE = ".trainchain-storage"

# Runs with the node's interpreter, standard library only. It starts the attempt in its own
# process group and waits; when its parent (the actor's worker) or the worker's parent (the
# node's raylet) vanishes it kills the group: a worker can outlive its raylet for a while, and
# the training must not go on next to its replacement. A SIGTERM to the group reaches the
# training, which ends as it likes; the supervisor then reports its end.
SUPERVISOR = """\
import os, signal, subprocess, sys
parent = int(sys.argv[1])
def parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
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


class NodeRuntime(LocalRuntime):
    """The local runtime on a Ray node, its command wrapped in the supervisor."""

    def command(self, env: Environment, trial: TrialSpec) -> list[str]:
        wrapped = super().command(env, trial)
        return [sys.executable, "-c", SUPERVISOR, str(os.getpid()), *wrapped]


class TrialHost:
    """A Ray actor running one attempt on its node (created by ``RayRuntime.start``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: LocalProcess | None = None
        self.failure: str | None = None
        self.root: Path | None = None
        self.node = _node_id()

    def start(self, trial: TrialSpec, env: dict[str, Any], snapshot: dict[str, Any]) -> str:
        """Prepare and launch in a thread (a build takes minutes); return this node's id."""
        self.root = paths.home() / "ray-attempts" / f"{trial.run_id}-{trial.trial}-{trial.attempt}"
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "work").parent.mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(target=self._launch, args=(trial, env, snapshot), daemon=True)
        thread.start()
        return self.node

    def _launch(self, trial: TrialSpec, env: dict[str, Any], snapshot: dict[str, Any]) -> None:
        assert self.root is not None
        log_path = self.root / "attempt.log"
        try:
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(
                    f"[trainchain] attempt on Ray node {self.node} ({socket.gethostname()})\n"
                )
                log.flush()
                _check_storage(trial)
                runtime = NodeRuntime()
                environment = _environment(runtime, env, log)
                workdir = _workdir(snapshot, self.root / "work")
            node_trial = replace(
                trial,
                workdir=workdir,
                events_path=self.root / "events.jsonl",
                log_path=log_path,
            )
            process = runtime.start(environment, node_trial)
            assert isinstance(process, LocalProcess)
            with self.lock:
                self.process = process
        except Exception as exc:  # noqa: BLE001 - reported to the controller as the outcome
            message = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"[trainchain] could not start on node {self.node}: {message}\n")
            with self.lock:
                self.failure = f"on Ray node {self.node}: {message}"

    def pull(self, events_offset: int, log_offset: int, wait: float = 0.0) -> dict[str, Any]:
        """New events and log bytes from the offsets, and the outcome once everything is read.

        Waits up to ``wait`` seconds for something new (a long poll: the controller learns of
        an epoch or the end within ``PULL_STEP`` instead of its own polling interval)."""
        deadline = time.monotonic() + wait
        while True:
            reply = self._pull(events_offset, log_offset)
            if reply["events"] or reply["log"] or reply["outcome"] or time.monotonic() > deadline:
                return reply
            time.sleep(PULL_STEP)

    def _pull(self, events_offset: int, log_offset: int) -> dict[str, Any]:
        with self.lock:
            process, failure = self.process, self.failure
        outcome: Outcome | None = None
        if failure is not None:
            outcome = Outcome(OutcomeKind.FAILED, reason=failure)
        elif process is not None:
            outcome = process.poll()
        assert self.root is not None
        events = _read(self.root / "events.jsonl", events_offset)
        log = _read(self.root / "attempt.log", log_offset)
        if len(events) == PULL_LIMIT or len(log) == PULL_LIMIT:
            outcome = None  # more to read first
        return {"events": events, "log": log, "outcome": outcome, "node": self.node}

    def signal(self, sig: int) -> None:
        with self.lock:
            process = self.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.proc.pid, sig)

    def close(self) -> None:
        """Remove the node-local working copy, events and log (the controller has them)."""
        self.signal(signal.SIGKILL)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def _node_id() -> str:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:  # noqa: BLE001 - outside Ray (unit use): the host is the node
        return socket.gethostname()


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
