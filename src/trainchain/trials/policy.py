"""Restart policy: what to do after an attempt ends (the supervisor's decisions, job6).

Pure functions over attempt summaries, so every rule is unit-tested without a process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainchain.states import OutcomeKind

USAGE_EXIT_CODE = 2  # the agent's "you must tell me something" exit (unanswered prompt)
MAX_LOST = 5  # lost attempts (node or controller gone) before a trial gives up


@dataclass(frozen=True)
class AttemptSummary:
    outcome: OutcomeKind
    reason: str
    exception: dict[str, Any] | None  # {"type", "message", "file", "line"} from the end event
    last_epoch: int | None


@dataclass(frozen=True)
class Decision:
    restart: bool
    reason: str
    halve_batch: bool = False
    backoff: float = 0.0


def _signature(attempt: AttemptSummary) -> tuple[Any, ...] | None:
    exc = attempt.exception
    if not exc:
        return None
    return (exc.get("type"), exc.get("file"), exc.get("line"))


def decide(history: list[AttemptSummary], max_restarts: int, base_backoff: float = 1.0) -> Decision:
    """Restart the trial after ``history[-1]``, or end it (and why)."""
    last = history[-1]
    # A lost attempt (its node or controller died) is not the script's fault: it does not use
    # up max_restarts, and it restarts at once, from the last checkpoint, up to MAX_LOST times.
    lost = sum(1 for a in history if a.outcome == OutcomeKind.LOST)
    restarts_used = len(history) - 1 - (lost - (last.outcome == OutcomeKind.LOST))
    if last.outcome in (
        OutcomeKind.SUCCEEDED,
        OutcomeKind.SUCCEEDED_WITH_ERROR,  # a restart would train again and fail again
        OutcomeKind.STOPPED,
    ):
        return Decision(False, last.reason)
    if last.outcome == OutcomeKind.LOST:
        if lost > MAX_LOST:
            return Decision(False, f"{last.reason}; gave up after {lost} lost attempts")
        why = f"{last.reason}; restarting from the last checkpoint (lost attempts do not count)"
        return Decision(True, why)
    if last.outcome == OutcomeKind.TIMEOUT:
        return Decision(False, last.reason or "trial timeout")
    exc = last.exception or {}
    if exc.get("type") == "SyntaxError" or (
        last.outcome == OutcomeKind.FAILED and _exit_code(last) == USAGE_EXIT_CODE
    ):
        return Decision(False, last.reason)  # a mistake in the script or its inputs: no retry
    if exc.get("missing_input"):  # the same run reads the same missing path: no retry
        return Decision(False, missing_input_reason(exc))
    if len(history) >= 2:
        prev = history[-2]
        same_place = _signature(last) is not None and _signature(last) == _signature(prev)
        no_progress = last.last_epoch is None and prev.last_epoch is None
        if same_place or (no_progress and last.outcome == prev.outcome == OutcomeKind.FAILED):
            quoted = _quote(last) or last.reason
            return Decision(False, f"crash loop: {quoted} (twice in a row)")
    if restarts_used >= max_restarts:
        return Decision(
            False, f"{last.reason}; gave up after {restarts_used} restarts (max_restarts)"
        )
    backoff = base_backoff * (2**restarts_used)
    halve = last.outcome == OutcomeKind.OOM
    why = f"{last.reason}; restart {restarts_used + 1}/{max_restarts} from the last checkpoint"
    if halve:
        why += " with half the batch size"
    return Decision(True, why, halve_batch=halve, backoff=backoff)


def missing_input_reason(exc: dict[str, Any]) -> str:
    """The failure of a script that reads a path which does not exist, with the fix."""
    path = str(exc["missing_input"])
    name = path if path.startswith("/") else path.strip("./").split("/", 1)[0] or path
    where = f" at {exc.get('file')}:{exc.get('line')}" if exc.get("file") else ""
    return (
        f"missing input: the script reads {path}{where}, which does not exist (not restarted: "
        f"it would fail the same way); give it with --data {name}=PATH or "
        f"`data: {{{name}: PATH}}` in trainchain.yaml"
    )


def _exit_code(attempt: AttemptSummary) -> int | None:
    text = attempt.reason
    if text.startswith("exited with code "):
        try:
            return int(text.rsplit(" ", 1)[-1])
        except ValueError:
            return None
    return None


def _quote(attempt: AttemptSummary) -> str:
    exc = attempt.exception
    if not exc:
        return ""
    where = f" at {exc.get('file')}:{exc.get('line')}" if exc.get("file") else ""
    return f"{exc.get('type')}: {exc.get('message')}{where}"
