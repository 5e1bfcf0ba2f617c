"""Containers started ahead of their attempt ("spares"), so an attempt's start is one write.

Creating and starting a container (namespaces, mounts, cgroups, docker's init) takes 0.2 s on an
idle machine and over a second on a loaded one. ``DockerRuntime.prepare`` does it while the
previous trial trains: the spare has the attempt's own mounts, limits, user, labels and working
directory (a mount cannot be added to a running container, so a spare is made for one given
attempt, never shared), but its process is a waiter (``trainchain.agent.warm``): it imports the
agent and the script's frameworks (TensorFlow: seconds), then reads one message from a FIFO in
the attempt's events directory with the attempt's command line and environment (its parameters
are only known then), and runs the agent's ``main`` itself rather than starting a new
interpreter (the image's entrypoint, exec'd, when the agent cannot be imported). From there on
the container is the one a cold start would have made: docker's init is PID 1, the exit code,
the logs and the end are the agent's, and ``DockerProcess`` follows it unchanged.

The controller opens the FIFO for writing once the waiter reads it (that is how it knows the
spare is ready) and keeps it open until the release; a controller that dies closes it, the
waiter reads end-of-file and exits, so no spare outlives its controller as a running container.
A spare nobody used is removed by ``discard`` (the runtime's ``close``, its garbage collection,
or the interpreter's exit).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from trainchain.runtimes.base import TrialSpec, blank

log = logging.getLogger(__name__)

# Import the agent and the script's frameworks (``trainchain.agent.warm``: paid before the
# release), read the release (end-of-file: discarded, or the controller died), then run the agent
# as ``python -m trainchain.agent`` would; the image's entrypoint if the agent cannot load.
WAITER = """\
import json, os, sys
try:
    from trainchain.agent.warm import main
except Exception as exc:
    print(f"trainchain: the agent does not import ahead ({exc})", file=sys.stderr)
else:
    main()
with open(sys.argv[1], "rb") as fifo:
    message = fifo.read()
if not message:
    sys.exit(0)
message = json.loads(message)
os.environ.update(message["env"])
os.execvp(message["argv"][0], message["argv"])
"""
READY_SECONDS = 60.0  # a spare whose waiter is not reading by then is given up
MAX_MESSAGE = 60_000  # below a pipe's capacity: the release never blocks on a stuck reader
LABEL_SPARE = "trainchain.spare"


class Spare:
    """One container started ahead for ``trial``; ``create`` runs in a background thread."""

    def __init__(
        self, image: str, trial: TrialSpec, create: Callable[[str], Any], owner: int | None
    ) -> None:
        self.image, self.trial = image, blank(trial)
        self.fifo = trial.events_path.parent / f".release-{secrets.token_hex(4)}"
        self.container: Any = None
        self.inodes = _inodes(trial)
        self._fd: int | None = None
        self._error: str | None = None
        self._ready = threading.Event()
        self._discarded = False
        self._lock = threading.Lock()
        os.mkfifo(self.fifo, 0o600)
        if owner is not None:
            os.chown(self.fifo, owner, owner)
        self._thread = threading.Thread(
            target=self._start, args=(create,), name=f"spare-{trial.trial}", daemon=True
        )
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Block until the spare runs its waiter (or failed); False after ``timeout``."""
        return self._ready.wait(timeout)

    def matches(self, image: str, trial: TrialSpec) -> bool:
        return image == self.image and blank(trial) == self.trial

    def _start(self, create: Callable[[str], Any]) -> None:
        try:
            container = create(self.fifo.name)
            with self._lock:
                self.container = container
                discarded = self._discarded
            if discarded:  # discarded while it was being created
                container.remove(force=True, v=True)
                return
            container.start()
            self._open_writer(container)
        except Exception as exc:  # noqa: BLE001 - any failure: the attempt starts cold instead
            self._error = f"{exc.__class__.__name__}: {exc}"
            log.debug("spare for trial %s: %s", self.trial.trial, self._error)
        finally:
            self._ready.set()

    def _open_writer(self, container: Any) -> None:
        """Wait until the waiter reads the FIFO: opening it for writing succeeds then."""
        deadline, checked = time.monotonic() + READY_SECONDS, time.monotonic()
        while not self._discarded:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
            else:
                with self._lock:
                    if self._discarded:
                        os.close(fd)
                        return
                    self._fd = fd
                return
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"the waiter did not start within {READY_SECONDS:g} s")
            if now - checked > 0.5:  # a waiter that died (no python in the image?) never reads
                checked = now
                container.reload()
                if container.status != "running":
                    raise RuntimeError(f"the spare container is {container.status}")
            time.sleep(0.005)

    def release(self, argv: list[str], args: list[str], environ: dict[str, str]) -> Any:
        """Start the attempt in the spare: its container, or None when the spare is unusable
        (then it is discarded and the caller starts the attempt cold)."""
        self._ready.wait(READY_SECONDS + 30)
        message = json.dumps({"argv": argv, "args": args, "env": environ}).encode()
        with self._lock:
            fd, self._fd = self._fd, None
        usable = fd is not None and len(message) <= MAX_MESSAGE
        usable = usable and _inodes(self.trial) == self.inodes
        if not usable or fd is None:  # a directory made again since: the mount shows the old one
            if fd is not None:
                os.close(fd)
            self.discard()
            return None
        try:
            written = os.write(fd, message)  # non-blocking, below the pipe's capacity: all of it
        except OSError as exc:  # the waiter died meanwhile (EPIPE)
            log.debug("release of spare %s: %s", self.trial.trial, exc)
            written = -1
        finally:
            os.close(fd)  # end-of-file: the waiter execs
        self.fifo.unlink(missing_ok=True)
        if written != len(message):
            self.discard()
            return None
        return self.container

    def discard(self) -> None:
        """Remove the spare: a waiter that reads is let go first (end-of-file: it exits 0, so
        no "died abnormally" event reaches the monitor), then the container is removed."""
        with self._lock:
            self._discarded = True
            fd, self._fd = self._fd, None
            container = self.container
        if fd is not None:
            os.close(fd)
        self.fifo.unlink(missing_ok=True)
        if container is None:
            return
        with contextlib.suppress(Exception):  # gone already, or the engine is away
            if fd is not None:
                container.wait(timeout=10)
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)


def _inodes(trial: TrialSpec) -> list[int | None]:
    """The mounted directories' identities: one replaced since (``rmtree`` + ``mkdir``) would be
    a different directory than the one the spare's mount holds."""
    found: list[int | None] = []
    for path in (trial.workdir, trial.output_dir, trial.checkpoint_dir, trial.events_path.parent):
        try:
            found.append(path.stat().st_ino)
        except OSError:
            found.append(None)
    return found


def discard_all(spares: list[Spare]) -> None:
    """Finalizer of a runtime: remove every spare it still holds."""
    while spares:
        spares.pop().discard()
