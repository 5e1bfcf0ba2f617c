"""Notifications: email (SMTP), Slack, signed webhooks and GitHub commit statuses.

``dispatch(event, report, config.notify)`` sends one event on every channel that wants it,
retrying with backoff, and returns one ``DeliveryResult`` per channel; it never raises, so a
failed notification never fails a run. Standard library only (no heavy imports).
"""

from __future__ import annotations

from trainchain.notify.base import (
    DeliveryResult,
    Notifier,
    PermanentNotifyError,
    deliver,
    dispatch,
)
from trainchain.notify.config import NotifyChannel, NotifyEvent, parse_notify

__all__ = [
    "DeliveryResult",
    "Notifier",
    "NotifyChannel",
    "NotifyEvent",
    "PermanentNotifyError",
    "build_notifier",
    "deliver",
    "dispatch",
    "parse_notify",
]


def build_notifier(channel: NotifyChannel, *, timeout: float = 10.0) -> Notifier:
    """The notifier for one ``notify:`` item (like Optuna's ``get_storage``)."""
    from trainchain.notify.email import SmtpNotifier
    from trainchain.notify.github import GithubStatusNotifier
    from trainchain.notify.slack import SlackNotifier
    from trainchain.notify.webhook import WebhookNotifier

    if channel.email is not None:
        return SmtpNotifier(channel.email, channel.on, timeout=timeout)
    if channel.slack is not None:
        return SlackNotifier(channel.slack, channel.on, timeout=timeout)
    if channel.webhook is not None:
        return WebhookNotifier(channel.webhook, channel.on, timeout=timeout)
    if channel.github_status is not None:
        return GithubStatusNotifier(channel.github_status, channel.on, timeout=timeout)
    raise AssertionError(f"unhandled channel kind {channel.kind}")  # the validator forbids it
