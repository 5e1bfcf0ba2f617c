"""deliver/dispatch: retries with exponential backoff, permanent errors, never raising."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from trainchain.errors import NotifyError
from trainchain.notify import DeliveryResult, Notifier, PermanentNotifyError, deliver, dispatch
from trainchain.notify.base import ALL_EVENTS
from trainchain.notify.sample import sample_report
from trainchain.report import RunReport


class ScriptedNotifier(Notifier):
    """A double behind our own ABC: fails with the scripted errors, then succeeds."""

    def __init__(self, failures: list[BaseException], events: object = ALL_EVENTS) -> None:
        super().__init__(events)  # type: ignore[arg-type]
        self.name = "scripted"
        self.failures = list(failures)
        self.calls: list[str] = []

    def send(self, event: str, report: RunReport) -> str:
        self.calls.append(event)
        if self.failures:
            raise self.failures.pop(0)
        return "done"


@pytest.fixture
def report() -> RunReport:
    return sample_report("https://github.com/acme/digits.git", "a" * 40, "main")


def test_retries_with_exponential_backoff_then_succeeds(report: RunReport) -> None:
    sleeps: list[float] = []
    notifier = ScriptedNotifier([NotifyError("down"), NotifyError("still down")])
    result = deliver(notifier, "succeeded", report, retries=3, backoff=0.5, sleep=sleeps.append)
    assert result.ok and result.attempts == 3 and result.detail == "done"
    assert sleeps == [0.5, 1.0] and result.delivered_at and result.error is None


def test_gives_up_after_the_retries(report: RunReport) -> None:
    sleeps: list[float] = []
    notifier = ScriptedNotifier([NotifyError(f"down {i}") for i in range(10)])
    result = deliver(notifier, "failed", report, retries=3, backoff=0.1, sleep=sleeps.append)
    assert not result.ok and result.attempts == 4 and result.error == "down 3"
    assert sleeps == [0.1, 0.2, 0.4] and result.delivered_at is None


def test_permanent_errors_are_not_retried(report: RunReport) -> None:
    notifier = ScriptedNotifier([PermanentNotifyError("bad token")])
    result = deliver(notifier, "failed", report, retries=3, backoff=0, sleep=lambda s: None)
    assert not result.ok and result.attempts == 1 and notifier.calls == ["failed"]


def test_an_unexpected_exception_never_escapes(
    report: RunReport, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = ScriptedNotifier([KeyError("boom")] * 5)
    result = deliver(notifier, "failed", report, retries=1, backoff=0, sleep=lambda s: None)
    assert not result.ok and result.attempts == 2 and "unexpected KeyError" in (result.error or "")
    assert "could not send the failed notification on scripted" in caplog.text


def test_secrets_are_scrubbed_from_errors_and_logs(
    report: RunReport, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TC_URL", "smtp://bot:p%40ss-Word@mail.example.com:587")
    notifier = ScriptedNotifier([NotifyError("server said: p@ss-Word and p%40ss-Word")] * 3)
    notifier.read_secret("TC_URL", "SMTP URL")
    result = deliver(notifier, "failed", report, retries=1, backoff=0, sleep=lambda s: None)
    text = repr(dataclasses.asdict(result)) + caplog.text
    assert "ss-Word" not in text and "server said: *** and ***" in (result.error or "")


def test_missing_variable_is_permanent_and_named(
    report: RunReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TC_ABSENT", raising=False)

    class NeedsSecret(ScriptedNotifier):
        def send(self, event: str, report: RunReport) -> str:
            self.read_secret("TC_ABSENT", "webhook signing secret")
            return "unreachable"

    result = deliver(NeedsSecret([]), "failed", report, retries=3, backoff=0)
    assert not result.ok and result.attempts == 1
    assert result.error == (
        "environment variable TC_ABSENT is not set; export "
        "TC_ABSENT with the webhook signing secret (it is read from the "
        "environment only, never from the config)"
    )


def test_dispatch_filters_events_keeps_order_and_never_raises(report: RunReport) -> None:
    a = ScriptedNotifier([], events=["failed"])
    b = ScriptedNotifier([PermanentNotifyError("no")])
    c = ScriptedNotifier([])
    results = dispatch("succeeded", report, [a, b, c], backoff=0)
    assert [r.ok for r in results] == [False, True] and a.calls == []
    assert all(isinstance(r, DeliveryResult) for r in results)
    assert dispatch("succeeded", report, [a], force=True)[0].ok
    assert dispatch("started", report, []) == []
    assert dispatch("superseded", report, [a, b]) == []  # unknown event: logged, not raised
