"""Every fixed set of states, in one place (values are what the database stores).

A run moves queued -> running -> succeeded | target_not_reached | failed (or superseded while
queued); each stage of it pending -> running -> succeeded | failed | skipped; each trial running
-> complete | pruned | failed; each attempt of a trial ends with an ``OutcomeKind``. The
controller lock of a run directory is held, free or absent.
"""

from __future__ import annotations

import enum

__all__ = ["LIVE_RUN_STATUSES", "LockState", "OutcomeKind", "RunStatus", "StageState", "TrialState"]


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # target reached
    TARGET_NOT_REACHED = "target_not_reached"  # budget spent; the best is still registered
    FAILED = "failed"
    SUPERSEDED = "superseded"  # a newer push to the same branch replaced it while queued


# a run in one of these has not ended: its files and environment are kept
LIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class StageState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        return self in (StageState.SUCCEEDED, StageState.FAILED, StageState.SKIPPED)


class TrialState(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    PRUNED = "pruned"
    FAILED = "failed"


class OutcomeKind(enum.StrEnum):
    """How one attempt of a trial ended."""

    RUNNING = "running"  # not ended yet (the attempt row's value while it trains)
    SUCCEEDED = "succeeded"  # exit 0
    FAILED = "failed"  # non-zero exit code
    KILLED = "killed"  # ended by a signal we did not send for pruning/timeout
    OOM = "oom"  # killed by the kernel's (or the container's) OOM killer
    TIMEOUT = "timeout"  # exceeded the trial timeout; we killed it
    STOPPED = "stopped"  # we stopped it on purpose (pruned)
    LOST = "lost"  # the process or container vanished
    # Never from a runtime: the trial runner's reading of a non-zero exit whose ``end`` event
    # says training had finished (the script failed afterwards); the trial completes.
    SUCCEEDED_WITH_ERROR = "succeeded_with_error"


class LockState(enum.StrEnum):
    HELD = "held"  # a live controller executes the run
    FREE = "free"  # the controller that held it is gone
    ABSENT = "absent"  # no controller of this version ever ran it here
