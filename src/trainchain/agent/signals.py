"""SIGTERM (the controller stopping a pruned or timed-out trial) still ends with an ``end`` event.

Python's default for SIGTERM is to die on the spot: no ``finally`` blocks, no ``end`` event.
The agent turns it into a ``Terminated`` exception (the script's cleanup runs, like for Ctrl-C),
records the end, then dies by the same signal, so the controller still sees "killed by
SIGTERM" and not an ordinary exit code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

_received: list[int] = []


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM). A ``BaseException``, like ``KeyboardInterrupt``."""


def install() -> None:
    """Handle SIGTERM in the main thread (signal handlers can only be set there)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _received:
        return  # a second SIGTERM during cleanup: let the cleanup finish
    _received.append(signum)
    raise Terminated(f"stopped by signal {signal.Signals(signum).name}")


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
