"""Slack incoming webhooks: ``text`` (the fallback) plus Block Kit ``blocks``.

The webhook URL is the credential, so it is read from the environment and never shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trainchain.notify import message
from trainchain.notify.base import ALL_EVENTS, Notifier
from trainchain.notify.config import NotifyEvent, SlackChannel
from trainchain.notify.http import encode, post_json

if TYPE_CHECKING:
    from collections.abc import Iterable

    from trainchain.report import RunReport

_ICON = {
    "started": ":hourglass_flowing_sand:",
    "succeeded": ":white_check_mark:",
    "target_not_reached": ":warning:",
    "failed": ":x:",
}
_MAX_FIELDS = 10  # Slack's limit per section block


def _escape(text: str) -> str:
    """Slack mrkdwn control characters, as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: str, report: RunReport) -> dict[str, Any]:
    """The JSON Slack documents for incoming webhooks."""
    title = f"{_ICON.get(event, '')} {message.headline(event, report)}".strip()
    fields = [
        {"type": "mrkdwn", "text": f"*{_escape(label)}*\n{_escape(value)[:1900]}"}
        for label, value in message.facts(event, report)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}}
    ]
    for start in range(0, len(fields), _MAX_FIELDS):
        blocks.append({"type": "section", "fields": fields[start : start + _MAX_FIELDS]})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"trainchain · {event}"}]}
    )
    return {"text": _escape(title), "blocks": blocks}


class SlackNotifier(Notifier):
    def __init__(
        self,
        settings: SlackChannel,
        events: Iterable[NotifyEvent | str] = ALL_EVENTS,
        *,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(events)
        self.settings = settings
        self.secret_envs = (settings.webhook_url_env,)
        self.timeout = timeout
        self.name = f"slack:{settings.webhook_url_env}"

    def send(self, event: str, report: RunReport) -> str:
        url = self.read_secret(self.settings.webhook_url_env, "Slack incoming-webhook URL")
        answer = post_json(
            url,
            encode(slack_payload(event, report)),
            {},
            what=f"the Slack webhook in ${self.settings.webhook_url_env}",
            fix=f"check the URL in ${self.settings.webhook_url_env} (Slack answers 403/404 "
            "for a revoked or mistyped webhook)",
            timeout=self.timeout,
        )
        return f"HTTP {answer.status}"
