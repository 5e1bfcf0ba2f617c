"""Live logs over server-sent events: the run's log files, followed until the run ends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from trainchain import paths
from trainchain.states import LIVE_RUN_STATUSES
from trainchain.store import Store

MAX_STREAMS = 32  # each open stream holds a worker thread: more would starve the API
TAIL_BYTES = 256 * 1024  # a new stream starts at most this far from a log's end
_open = threading.BoundedSemaphore(MAX_STREAMS)


def stream_slot() -> bool:
    """Take one of the ``MAX_STREAMS`` slots (False when all are taken); ``follow`` frees it."""
    return _open.acquire(blocking=False)


POLL_SECONDS = 0.5
IDLE_LIMIT_SECONDS = 3600.0  # a stream with no new line and a stuck run ends after this


def follow(store: Store, run_id: str, poll: float = POLL_SECONDS) -> Iterator[str]:
    """SSE frames: one ``data:`` event per new log line (with its file), then ``event: end``.
    The caller took a ``stream_slot()``; it is given back when the stream ends or is closed."""
    try:
        yield from _follow(store, run_id, poll)
    finally:
        _open.release()


def _follow(store: Store, run_id: str, poll: float) -> Iterator[str]:
    run = store.get_run(run_id)
    root = paths.run_dir(run.id, paths.storage_of(run.options))
    offsets: dict[Path, int] = {}
    idle_since = time.monotonic()
    while True:
        sent = False
        for log_file in sorted(root.rglob("*.log")) if root.exists() else []:
            for line in _new_lines(log_file, offsets):
                sent = True
                frame = {"file": str(log_file.relative_to(root)), "line": line}
                yield f"data: {json.dumps(frame)}\n\n"
        status = store.get_run(run.id).status
        if not sent and status not in LIVE_RUN_STATUSES:
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n"
            return
        if sent:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > IDLE_LIMIT_SECONDS:
            yield f"event: end\ndata: {json.dumps({'status': status, 'reason': 'idle'})}\n\n"
            return
        else:
            yield ": keep-alive\n\n"  # a comment line: keeps proxies from closing the stream
        time.sleep(poll)


def _new_lines(path: Path, offsets: dict[Path, int]) -> list[str]:
    """Complete lines appended since the last call (a partial last line waits), at most
    ``TAIL_BYTES`` at a time; a log met for the first time is joined near its end."""
    joining = path not in offsets
    if joining:
        offsets[path] = max(0, path.stat().st_size - TAIL_BYTES)
    start = offsets[path]
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(TAIL_BYTES)
    if joining and start:  # the first line is cut: start after it
        cut = data.find(b"\n")
        if cut < 0:
            return []
        start, data = start + cut + 1, data[cut + 1 :]
        offsets[path] = start
    end = data.rfind(b"\n")
    if end < 0:
        if len(data) >= TAIL_BYTES:  # one endless line: skip what was read
            offsets[path] = start + len(data)
        return []
    offsets[path] = start + end + 1
    text = data[: end + 1].decode("utf-8", errors="replace").replace("\r", "\n")
    return [line for line in text.splitlines() if line.strip()]
