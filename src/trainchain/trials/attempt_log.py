"""An attempt's log file (the script's stdout and stderr): kept bounded while it is written,
and its last lines quoted when a trial fails."""

from __future__ import annotations

from pathlib import Path

from trainchain.settings import operator_settings

LOG_CAP_BYTES = 64 * 1024 * 1024  # per attempt (TRAINCHAIN_LOG_CAP_BYTES): head + latest


def cap_log(path: Path, limit: int | None = None) -> int:
    """Bound an attempt's log: past ``limit`` bytes keep its first half and a marker, and the
    writer (appending) goes on after them. Returns the size now."""
    limit = limit or operator_settings().log_cap_bytes or LOG_CAP_BYTES
    size = path.stat().st_size
    if size <= limit:
        return size
    head = limit // 2
    marker = f"\n[trainchain: log over {limit} bytes; {size - head} bytes dropped here]\n"
    with open(path, "r+b") as fh:
        fh.seek(head)
        fh.write(marker.encode())
        fh.truncate()
        return fh.tell()


def log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` non-empty lines of the log, indented for an error message."""
    try:
        with open(path, "rb") as fh:  # only the end: a log may be large
            fh.seek(max(0, fh.seek(0, 2) - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "    (no output)"
    rows = [row for row in text.replace("\r", "\n").splitlines() if row.strip()][-lines:]
    return "\n".join(f"    {row}" for row in rows) or "    (no output)"
