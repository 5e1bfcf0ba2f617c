"""SIGTERM (the controller stopping a pruned or timed-out trial, ``docker stop``, a stopping
dockerd) ends the training within ``GRACE_SECONDS``, still with an ``end`` event.

Python's default for SIGTERM is to die on the spot: no ``finally`` blocks, no ``end`` event.
The agent turns it into a ``Terminated`` exception (the script's cleanup runs, like for Ctrl-C),
records the end, then dies by the same signal, so the controller still sees "killed by
SIGTERM" and not an ordinary exit code.

An exception raised by a signal handler can vanish: the handler runs at the next bytecode of
the main thread, and when that is Python code called back from C that clears errors
(TensorFlow's op fast path calling ``TensorShape.__len__`` during Keras' ``save_weights``;
``hasattr`` or a dict lookup in C do the same) ``Terminated`` is dropped and training goes on to
its end, until docker's SIGKILL 10 s later. So the first SIGTERM also wakes a watchdog thread:
``GRACE_SECONDS`` later it writes the ``end`` event (unless the main thread did) and ends the
process by the signal; while the agent saves a stopped fit's best epoch (``keeping``) it waits
for that, up to ``KEEP_SECONDS``. From the first SIGTERM on its disposition is the default: a
second one ends the process at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

from trainchain.agent import events, outcome

GRACE_SECONDS = 2.0  # for the script's own cleanup; docker's stop timeout is 10 s
# while the agent saves what a stopped training keeps (its best epoch's model: ``keeping``),
# the watchdog waits up to this long after the signal, still within the runtimes' 10 s
KEEP_SECONDS = 8.0

_received: list[int] = []
_armed = threading.Event()
_keeping = threading.Event()


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM). A ``BaseException``, like ``KeyboardInterrupt``."""


def install(project_dir: str) -> None:
    """Handle SIGTERM in the main thread (signal handlers can only be set there); the watchdog
    is started now, not by the handler (which may run while the main thread holds
    ``threading``'s own locks)."""
    if threading.current_thread() is not threading.main_thread():
        return
    watchdog = threading.Thread(
        target=_watch, args=(project_dir,), name="trainchain-sigterm", daemon=True
    )
    watchdog.start()
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _received:
        return
    _received.append(signum)
    signal.signal(signum, signal.SIG_DFL)  # the watchdog's kill must end the process
    _armed.set()
    raise Terminated(f"stopped by signal {signal.Signals(signum).name}")


def _watch(project_dir: str) -> None:
    """After a SIGTERM: end the process if it still runs ``GRACE_SECONDS`` later."""
    _armed.wait()
    signalled = time.monotonic()
    time.sleep(GRACE_SECONDS)
    while _keeping.is_set() and time.monotonic() - signalled < KEEP_SECONDS:
        time.sleep(0.05)
    signum = _received[0]
    name = signal.Signals(signum).name
    main = sys._current_frames().get(threading.main_thread().ident or 0)
    file, line = outcome.stack_location(main, project_dir)
    where = f" (at {file}:{line})" if file else ""
    message = (
        f"stopped by signal {name}; still running {GRACE_SECONDS:g} s later{where}: "
        "ended by the agent"
    )
    os.write(2, f"trainchain: {message}\n".encode())  # not sys.stderr: its lock may be held
    exception = {"type": "Terminated", "message": message, "file": file, "line": line}
    events.emit("end", status="error", exception=exception, after_training=False)
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def keeping() -> Iterator[None]:
    """Around saving what a stopped training keeps: the watchdog lets it finish (up to
    ``KEEP_SECONDS`` after the signal) before it ends the process."""
    _keeping.set()
    try:
        yield
    finally:
        _keeping.clear()


def was_terminated() -> bool:
    return bool(_received)


def die_like_terminated() -> None:
    """Exit by the signal that stopped the script (after the ``end`` event is written)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    signum = _received[0] if _received else signal.SIGTERM
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
