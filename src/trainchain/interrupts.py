"""Ctrl-C that is never lost in the controller.

Python turns SIGINT into ``KeyboardInterrupt`` at the main thread's next bytecode; when that is
Python code called back from C that drops errors (a ``__del__``, a weakref or GC callback, a
library's C extension calling back into Python), the exception vanishes with an "Exception
ignored" line and the run goes on training. So the handler also records the interrupt, and the
controller's wait loops (``check``, between stages and at every poll of an attempt) raise it
again: the run always ends with the training stopped and exit code 130.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_pending = threading.Event()


def install() -> None:
    """Record every SIGINT as well as raising ``KeyboardInterrupt`` (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        _pending.clear()
        signal.signal(signal.SIGINT, _on_sigint)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _pending.set()
    raise KeyboardInterrupt


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C came (even one whose exception was lost)."""
    if _pending.is_set():
        raise KeyboardInterrupt
