"""Starting an attempt while the runtime is away (dockerd restarting, no Ray cluster answering
yet): wait with backoff instead of failing the trial."""

from __future__ import annotations

import time
from collections.abc import Callable

import tenacity

from trainchain.errors import RuntimeUnavailableError
from trainchain.runtimes.base import TrialProcess

RUNTIME_WAIT_SECONDS = 180.0  # how long an attempt waits for an engine that went away


def start_when_available(
    start: Callable[[], TrialProcess],
    waiting: Callable[[float, str], None],
    limit: float = RUNTIME_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> TrialProcess:
    """``start()``, again after 1, 2, 4, 8, 15, 15... seconds while it raises
    ``RuntimeUnavailableError``; the last error once the next wait would pass ``limit``."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        waiting(state.upcoming_sleep, getattr(failure, "message", str(failure)))

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RuntimeUnavailableError),
        wait=tenacity.wait_exponential(multiplier=1, max=15),
        stop=tenacity.stop_before_delay(limit),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(start)
