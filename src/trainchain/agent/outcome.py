"""How a trial ends: the ``end`` event, where an exception happened, and ``metrics.json``."""

from __future__ import annotations

import json
import logging
import os
import sys
import sysconfig
import traceback
from types import FrameType, TracebackType
from typing import Any

from trainchain.agent import events

logger = logging.getLogger(__name__)

AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
_LIBRARY_DIRS = tuple(
    {
        os.path.abspath(p)
        for p in (sysconfig.get_paths().get(k) for k in ("stdlib", "purelib", "platlib"))
        if p
    }
)


def is_user_file(filename: str, project_dir: str) -> bool:
    """Code of the project (not the standard library, an installed package or the agent)."""
    if filename.startswith("<") and not filename.endswith(">"):
        return False
    path = os.path.abspath(filename.split("#cell", 1)[0])
    if path.startswith(AGENT_DIR) or "site-packages" in path or "dist-packages" in path:
        return False
    if any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS):
        return False
    return path.startswith(project_dir + os.sep) or path.startswith(os.getcwd() + os.sep)


def user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """Drop the agent's own frames at the top, so the traceback starts in the user's code."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(AGENT_DIR):
        tb = tb.tb_next
    return tb


def location(exc: BaseException, project_dir: str) -> tuple[str | None, int | None]:
    """The innermost ``file, line`` inside the user's code (or the SyntaxError's own)."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return _display(exc.filename), exc.lineno
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        if is_user_file(frame.filename, project_dir):
            found = (_display(frame.filename), frame.lineno)
    return found


def stack_location(frame: FrameType | None, project_dir: str) -> tuple[str | None, int | None]:
    """The innermost ``file, line`` inside the user's code of a running thread's stack."""
    found: tuple[str | None, int | None] = (None, None)
    for summary in traceback.extract_stack(frame) if frame is not None else []:
        if is_user_file(summary.filename, project_dir):
            found = (_display(summary.filename), summary.lineno)
    return found


def _display(filename: str) -> str:
    try:
        rel = os.path.relpath(filename, os.getcwd())
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel


def print_exception(exc: BaseException) -> None:
    """Print like the interpreter would, minus the agent's frames."""
    # A SyntaxError shows only its own file, line and caret, as ``python script.py`` does.
    tb = None if isinstance(exc, SyntaxError) else user_traceback(exc.__traceback__)
    traceback.print_exception(type(exc), exc, tb, file=sys.stderr)


def end_error(exc: BaseException, project_dir: str, after_training: bool = False) -> None:
    """The ``end`` event of a failed script; ``after_training``: its training had finished."""
    file, line = location(exc, project_dir)
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    if after_training:
        logger.warning(
            "the script failed after its training finished (%s at %s:%s): the trial keeps "
            "training's metrics and model; fix the script to silence this warning",
            type(exc).__name__,
            file,
            line,
        )
    events.emit(
        "end",
        status="error",
        exception={
            "type": type(exc).__name__,
            "message": message,
            "file": file,
            "line": line,
            **_missing_input(exc),
        },
        after_training=after_training,
    )


def _missing_input(exc: BaseException) -> dict[str, str]:
    """A file or directory the script reads that is not there: an input to give, so the
    controller fails the trial with the fix instead of restarting it."""
    name = getattr(exc, "filename", None)
    if getattr(exc, "trainchain_write", False):
        return {}  # open(path, "w") in a directory that does not exist: an output
    if isinstance(exc, FileNotFoundError | NotADirectoryError) and isinstance(
        name, str | bytes | os.PathLike
    ):
        return {"missing_input": os.fsdecode(name)}
    return {}


def end_ok() -> None:
    events.emit("end", status="ok", exception=None)


def read_metrics_json(output_dir: str, started_at: float) -> None:
    """``metrics.json`` in the output directory (or, written during the run, in the cwd)."""
    candidates = [os.path.join(output_dir, "metrics.json"), os.path.abspath("metrics.json")]
    for path in dict.fromkeys(candidates):
        try:
            if path != candidates[0] and os.path.getmtime(path) < started_at:
                continue  # a stale file from the repository, not this run's
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            logger.warning("%s is not readable JSON (%s); its metrics are ignored", path, exc)
            continue
        for name, value in _flatten(data).items():
            events.emit("metric", name=name, value=value, source="metrics_json")
        return


def _flatten(data: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}"))
    elif isinstance(data, int | float) and not isinstance(data, bool) and prefix:
        out[prefix] = float(data)
    return out
