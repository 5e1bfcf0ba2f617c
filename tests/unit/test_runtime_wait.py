"""A trial waits for a runtime that is briefly unavailable (dockerd restarting), then gives up."""

from __future__ import annotations

from typing import Any

import pytest

from trainchain.errors import RuntimeUnavailableError, TrainchainError
from trainchain.trials.runtime_wait import start_when_available

STARTED: Any = object()  # what the runtime's start returns


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeUnavailableError(f"docker engine down (call {self.calls})")
        return STARTED


def test_waits_with_growing_delays_then_starts() -> None:
    sleeps: list[float] = []
    waits: list[tuple[float, str]] = []
    start = Flaky(failures=6)
    got = start_when_available(
        start, lambda d, why: waits.append((d, why)), limit=1000, sleep=sleeps.append
    )
    assert got is STARTED and start.calls == 7
    assert sleeps == [1, 2, 4, 8, 15, 15]
    assert waits[0] == (1, "docker engine down (call 1)")


def test_gives_up_with_the_last_error_past_the_limit() -> None:
    sleeps: list[float] = []
    start = Flaky(failures=100)
    # sleeps are recorded, not slept: waits of 1 and 2 s fit in 3.5 s, the next (4 s) does not
    with pytest.raises(RuntimeUnavailableError, match="call 3"):
        start_when_available(start, lambda d, why: None, limit=3.5, sleep=sleeps.append)
    assert sleeps == [1, 2] and start.calls == 3


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def broken() -> Any:
        calls.append(1)
        raise TrainchainError("bad image")

    with pytest.raises(TrainchainError, match="bad image"):
        start_when_available(broken, lambda d, why: None, sleep=lambda s: None)
    assert calls == [1]
