"""Metrics read from what the script prints, as Katib's stdout collector does.

``sys.stdout`` is replaced by a tee: everything still reaches the real stdout unchanged, and each
complete line is matched against ``STDOUT_PATTERNS``. Only names that look like metrics count
(``METRIC_WORDS``), so ``batch size: 32`` is not a metric. Lines printed while Keras is inside
``fit``/``evaluate`` are skipped (the Keras hooks report those precisely), and so are progress
bars anywhere. An accuracy-like value in (1, 100] is a percentage and is divided by 100.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any, TextIO

_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_NAME = r"[A-Za-z_][\w.\-/]*(?:[ \t][A-Za-z_][\w.\-/]*){0,3}"

# The patterns tried, in order; the controller quotes them when no metric is found.
STDOUT_PATTERNS: tuple[str, ...] = (
    # "accuracy: 0.81", "val_accuracy=0.9", "Test accuracy: 0.87", "loss = 1e-3", "acc: 91%"
    rf"(?P<name>{_NAME})\s*[:=]\s*(?P<value>{_NUMBER})(?P<pct>\s*%)?",
    # "final accuracy  83", "test_acc 0.93" (name, blanks, number, end of line)
    rf"^\s*(?P<name>{_NAME})[ \t]+(?P<value>{_NUMBER})(?P<pct>\s*%)?\s*$",
)
# A name counts as a metric when one of its ``_``-separated tokens is one of these.
METRIC_WORDS: tuple[str, ...] = (
    "acc", "accuracy", "loss", "auc", "f1", "precision", "recall", "mae", "mse", "rmse",
    "r2", "score", "error", "iou", "dice", "map", "bleu", "rouge", "perplexity", "ppl",
)  # fmt: skip
_PERCENT_WORDS = ("acc", "auc", "precision", "recall", "f1", "iou", "dice")
# Words that may qualify a metric name ("Test accuracy"); other leading words are dropped.
_QUALIFIERS = {
    "test", "val", "valid", "validation", "train", "training", "final", "best", "eval",
    "evaluation", "mean", "avg", "average", "top", "holdout", "dev", "overall",
}  # fmt: skip
_METRIC_SET = set(METRIC_WORDS)
_COMPILED = [re.compile(p) for p in STDOUT_PATTERNS]
# Keras progress bars and epoch headers: "12/32 ━━━━ 1s 10ms/step - loss: ...", "Epoch 3/5".
_PROGRESS = re.compile(r"^\s*(\d+/\d+\s|Epoch \d+/\d+)|━|ms/step|s/step|us/step|\[=+>?\.*\]")


def _normalize(name: str) -> str | None:
    words = [w for w in re.split(r"[\s\-/.]+", name.strip().lower()) if w]
    metric_at = max(
        (i for i, w in enumerate(words) if set(w.split("_")) & _METRIC_SET), default=None
    )
    if metric_at is None:
        return None
    start = metric_at
    while start > 0 and words[start - 1] in _QUALIFIERS:
        start -= 1
    return "_".join(words[start : metric_at + 1])


def parse_line(line: str) -> list[tuple[str, float]]:
    """The metrics on one line of output, in order; empty when it holds none."""
    if _PROGRESS.search(line):
        return []
    found: list[tuple[str, float]] = []
    for pattern in _COMPILED:
        for match in pattern.finditer(line):
            name = _normalize(match.group("name"))
            if name is None:
                continue
            value = float(match.group("value"))
            if match.group("pct") or (
                any(w in name for w in _PERCENT_WORDS) and 1.0 < value <= 100.0
            ):
                value /= 100.0
            found.append((name, value))
        if found:
            return found  # the first pattern that matches wins, as Katib's does
    return found


class StdoutTee(io.TextIOBase):
    """A text stream that writes through to ``target`` and hands complete lines to ``on_line``."""

    def __init__(self, target: TextIO, on_line: Callable[[str], None]) -> None:
        super().__init__()
        self._target = target
        self._on_line = on_line
        self._pending = ""
        self._last_line = ""

    def write(self, s: str) -> int:
        written = self._target.write(s)
        self._pending += s
        if "\n" in self._pending or "\r" in self._pending:
            *lines, self._pending = re.split(r"\r\n|\n|\r", self._pending)
            for line in lines:
                if line.strip():
                    self._last_line = line
                self._on_line(line)
        return written if isinstance(written, int) else len(s)

    def on_screen(self) -> str:
        """What a terminal shows where the cursor is: the unfinished line, else the last one.

        ``print("Enter no_of_epoch:"); input()`` asks its question this way.
        """
        return self._pending if self._pending.strip() else self._last_line

    def write_unparsed(self, s: str) -> int:
        """Write without parsing (the agent's own echo of an answered prompt): the question
        on screen is answered, so a later bare ``input()`` does not see it again."""
        self._pending = self._last_line = ""
        written = self._target.write(s)
        return written if isinstance(written, int) else len(s)

    def flush(self) -> None:
        self._target.flush()

    def close_pending(self) -> None:
        """Parse a last line that had no newline (the script ended mid-line)."""
        if self._pending:
            line, self._pending = self._pending, ""
            self._on_line(line)

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._target, "errors", None)

    def __getattr__(self, name: str) -> Any:  # buffer, reconfigure, ... of the real stream
        return getattr(self._target, name)
