"""The Notifier contract and the dispatcher that retries deliveries and never raises.

A ``Notifier`` is created per dispatch and used from one thread; ``send`` may be called several
times for the same event (retries), so it must be safe to repeat. Notifiers read their secrets
from the environment with ``read_secret`` at send time, which also registers the value so the
dispatcher scrubs it from every error it records or logs.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import tenacity

from trainchain.errors import NotifyError
from trainchain.notify.config import NotifyChannel, NotifyEvent

if TYPE_CHECKING:
    from trainchain.report import RunReport

logger = logging.getLogger(__name__)

ALL_EVENTS = frozenset(NotifyEvent)


class PermanentNotifyError(NotifyError):
    """A failure that a retry cannot fix (missing variable, rejected credentials, HTTP 4xx)."""


@dataclass(frozen=True)
class DeliveryResult:
    """One channel's answer to one event; safe to persist (never holds a secret)."""

    channel: str
    event: str
    ok: bool
    attempts: int
    error: str | None = None
    delivered_at: str | None = None  # ISO 8601, UTC
    detail: str = ""  # e.g. "HTTP 201" or "accepted for 2 recipients"


class Notifier(ABC):
    """Sends one event of one run on one channel."""

    #: stable, secret-free label shown in results and logs ("email:ml@x.org", "slack:ENV")
    name: str = "notifier"
    #: the environment variables holding this notifier's secrets
    secret_envs: tuple[str, ...] = ()

    def __init__(self, events: Iterable[NotifyEvent | str] = ALL_EVENTS) -> None:
        self.events = frozenset(NotifyEvent(e) for e in events)
        self._secrets: set[str] = set()

    @abstractmethod
    def send(self, event: str, report: RunReport) -> str | None:
        """Deliver ``event`` about ``report``; may return a detail for the result (no secret).

        Raises ``NotifyError`` (``PermanentNotifyError`` when retrying cannot help).
        """

    def wants(self, event: str) -> bool:
        return event in {e.value for e in self.events}

    def read_secret(self, env_name: str, what: str) -> str:
        """The value of ``env_name``; a missing variable is a permanent, named failure."""
        value = os.environ.get(env_name, "").strip()
        if not value:
            raise PermanentNotifyError(
                f"environment variable {env_name} is not set; export {env_name} "
                f"with the {what} (it is read from the environment only, never from the config)"
            )
        self.add_secret(value)
        return value

    def add_secret(self, value: str) -> None:
        """Scrub ``value`` (and, for a URL, its password and query) from errors and logs."""
        if not value:
            return
        self._secrets.add(value)
        try:
            parts = urlsplit(value)
        except ValueError:
            return
        for piece in (parts.password, unquote(parts.password or ""), parts.query):
            if piece:
                self._secrets.add(piece)

    def scrub(self, text: str) -> str:
        """``text`` with every secret this notifier has seen replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def deliver(
    notifier: Notifier,
    event: str,
    report: RunReport,
    *,
    retries: int = 3,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send with up to ``retries`` retries (``backoff * 2**n`` seconds apart); never raises."""
    attempts = 0

    def send_once() -> str:
        nonlocal attempts
        attempts += 1
        try:
            return notifier.scrub(notifier.send(event, report) or "")
        except NotifyError as exc:
            permanent = isinstance(exc, PermanentNotifyError)
            raise _Undelivered(notifier.scrub(exc.message), permanent) from exc
        except Exception as exc:  # noqa: BLE001 - a notification must never fail the run
            raise _Undelivered(notifier.scrub(f"unexpected {type(exc).__name__}: {exc}")) from exc

    def log_retry(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        delay = state.upcoming_sleep
        logger.info("retrying %s on %s in %.2fs: %s", event, notifier.name, delay, failure)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential(multiplier=backoff, min=0),
        retry=tenacity.retry_if_exception(lambda e: not getattr(e, "permanent", True)),
        sleep=sleep,
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        detail = retrying(send_once)
    except _Undelivered as exc:
        error = str(exc)
    else:
        logger.info("notified %s on %s (%s)", event, notifier.name, detail)
        return DeliveryResult(notifier.name, event, True, attempts, None, now_iso(), detail)
    logger.warning(
        "could not send the %s notification on %s (%d attempt(s)): %s",
        event,
        notifier.name,
        attempts,
        error,
    )
    return DeliveryResult(notifier.name, event, False, attempts, error)


class _Undelivered(Exception):
    """One failed send: the scrubbed error, and whether trying again could help."""

    def __init__(self, error: str, permanent: bool = False) -> None:
        super().__init__(error)
        self.permanent = permanent


def dispatch(
    event: str,
    report: RunReport,
    channels: Sequence[NotifyChannel | Notifier],
    *,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 10.0,
    force: bool = False,
) -> list[DeliveryResult]:
    """Send ``event`` on every channel that wants it, concurrently; never raises.

    ``channels`` are config items (built with ``build_notifier``) or ready ``Notifier``s.
    ``force`` ignores the channels' ``on:`` lists (``trainchain notify test``). Results come in
    the order of ``channels``; channels that do not want the event are left out.
    """
    from trainchain.notify import build_notifier

    if event not in {e.value for e in NotifyEvent}:
        logger.warning("unknown notification event %r; known: %s", event, ", ".join(NotifyEvent))
    notifiers: list[Notifier | DeliveryResult] = []
    for channel in channels:
        if isinstance(channel, Notifier):
            notifiers.append(channel)
            continue
        try:
            notifiers.append(build_notifier(channel, timeout=timeout))
        except NotifyError as exc:  # a channel that cannot even be built is still recorded
            notifiers.append(DeliveryResult(channel.kind, event, False, 0, exc.message))
    todo = [n for n in notifiers if isinstance(n, DeliveryResult) or force or n.wants(event)]
    if not todo:
        return []
    # every notifier scrubs every channel's secrets: a server may echo another one's token
    shared = {
        os.environ.get(env, "") for n in todo if isinstance(n, Notifier) for env in n.secret_envs
    }
    for item in todo:
        if isinstance(item, Notifier):
            for value in shared:
                item.add_secret(value.strip())

    def run(item: Notifier | DeliveryResult) -> DeliveryResult:
        if isinstance(item, DeliveryResult):
            return item
        return deliver(item, event, report, retries=retries, backoff=backoff)

    with ThreadPoolExecutor(max_workers=min(8, len(todo)), thread_name_prefix="notify") as pool:
        return list(pool.map(run, todo))
