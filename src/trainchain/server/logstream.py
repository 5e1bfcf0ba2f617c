"""Live logs over server-sent events: the run's log files, followed until the run ends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from trainchain import paths
from trainchain.store import Store

LIVE_STATES = ("queued", "running")
POLL_SECONDS = 0.5
IDLE_LIMIT_SECONDS = 3600.0  # a stream with no new line and a stuck run ends after this


def follow(store: Store, run_id: str, poll: float = POLL_SECONDS) -> Iterator[str]:
    """SSE frames: one ``data:`` event per new log line (with its file), then ``event: end``."""
    run = store.get_run(run_id)
    root = paths.runs_dir() / run.id
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
        if not sent and status not in LIVE_STATES:
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
    """Complete lines appended since the last call (a partial last line waits)."""
    start = offsets.get(path, 0)
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    end = data.rfind(b"\n")
    if end < 0:
        return []
    offsets[path] = start + end + 1
    text = data[: end + 1].decode("utf-8", errors="replace").replace("\r", "\n")
    return [line for line in text.splitlines() if line.strip()]
