"""The events file: the single source of a trial's metrics (standard library only).

The agent appends one JSON object per line to ``$TRAINCHAIN_EVENTS``; the controller tails it
live. Every event has ``type`` and ``time`` (Unix seconds). The types:

``start``        {"entrypoint", "argv", "pid", "resumed": bool}
``param``        {"name", "value", "how"}  how: constant|argparse|click|prompt|env|keras
``prompt``       {"prompt", "param", "value"}  an ``input()`` answered from the parameters
``epoch``        {"epoch": int (1-based, as Keras prints), "metrics": {name: float}}
``metric``       {"name", "value", "source"}  a final metric; source: sdk|keras_evaluate|
                 metrics_json|stdout  (``step`` optional for sdk metrics)
``fit``          {"call": N (1-based per process), "epochs", "batch_size", "initial_epoch"
                 (0-based, after any restore), "skipped": bool (finished in an earlier attempt)}
``recovered``    {"attempt": N | None, "epochs": [{"epoch", "metrics"}]}  the epochs of a fit
                 finished by attempt N, replayed when a later attempt skips that fit (an attempt
                 lost after training may never have reported them)
``checkpoint``   {"path", "epoch"}  a Keras backup written; with "restored": true when an
                 attempt resumed from it (``restored: false`` + "error" for an unreadable one)
``model``        {"path", "framework"}  the last one is the trial's model
``architecture`` {"knobs": {...}, "before": {"layers", "params"}, "after": {"layers", "params"},
                 "notes": [str], "applied": bool}  notes include the keras.optimizer swap
``params_unused`` {"names"}  parameters no constant, option, prompt or Keras hook took
``oom``          {"batch_size"}   the agent halved a Keras batch size after an OOM restart
``data``         {"call", "train_batches", "val_batches", "train_samples", "val_samples",
                 "batch_size"}  sizes of a Keras fit's inputs, before training (null: unknown)
``adjusted``     {"argument", "from", "to", "why"}  the agent changed a training argument (e.g.
                 validation_steps past the end of a finite input clamped to one pass)
``dataset_cache`` {"cache", "shadow", "why"}  Keras was given a writable shadow of a read-only
                 dataset cache (symlinks to the cached files)
``warm``         {"imported": [str], "seconds", "waited"}  a warm start: the interpreter imported
                 these frameworks ahead (taking "seconds"), then waited "waited" s for its release
``end``          {"status": "ok"|"error", "exception": {"type", "message", "file", "line"} | None,
                 "after_training": bool}  true: the script failed after its training finished

Unknown types must be ignored by readers, so the agent can grow without breaking controllers.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from trainchain.agent import contract

_lock = threading.Lock()
_ended: set[str] = set()  # events files with their ``end``: the first one written is the end


def events_path() -> str | None:
    return os.environ.get(contract.EVENTS)


def emit(type_: str, **fields: Any) -> None:
    """Append one event; a no-op when the script runs outside trainchain."""
    path = events_path()
    if not path:
        return
    record = {"type": type_, "time": time.time(), **fields}
    line = json.dumps(record, default=_jsonable) + "\n"
    with _lock:
        if type_ == "end":
            if path in _ended:
                return  # the main thread and the SIGTERM watchdog (``signals``) may both end
            _ended.add(path)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()


def read_events(path: str, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Read complete lines from ``offset``; return the events and the new offset.

    A partial last line (the writer is mid-write) is left for the next call.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    events = []
    for raw in data[: end + 1].splitlines():
        if not raw.strip():
            continue
        try:
            events.append(json.loads(raw))
        except ValueError:
            continue  # a torn line from a killed writer; the next one is whole
    return events, offset + end + 1


def _jsonable(value: Any) -> Any:
    for attr in ("item", "tolist"):  # numpy scalars and arrays
        if hasattr(value, attr):
            try:
                return getattr(value, attr)()
            except Exception:  # noqa: BLE001 - fall back to str below
                break
    return str(value)
