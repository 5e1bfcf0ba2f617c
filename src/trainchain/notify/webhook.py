"""Generic webhooks: a JSON body signed with HMAC-SHA256, GitHub-style headers.

Headers: ``X-Trainchain-Event``, ``X-Trainchain-Delivery`` (a UUID, the same on every retry
of one delivery so receivers can drop duplicates) and, when ``secret_env`` is set,
``X-Trainchain-Signature-256: sha256=<hex HMAC of the raw body>``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from trainchain.notify import message
from trainchain.notify.base import ALL_EVENTS, Notifier
from trainchain.notify.config import NotifyEvent, WebhookChannel
from trainchain.notify.http import encode, post_json
from trainchain.signing import sign

if TYPE_CHECKING:
    from collections.abc import Iterable

    from trainchain.report import RunReport

SIGNATURE_HEADER = "X-Trainchain-Signature-256"
DELIVERY_HEADER = "X-Trainchain-Delivery"
EVENT_HEADER = "X-Trainchain-Event"


def webhook_payload(event: str, report: RunReport, delivery: str) -> dict[str, Any]:
    return {
        "event": event,
        "delivery": delivery,
        "test": message.is_test(report),
        "summary": message.headline(event, report),
        "run": report.to_dict(),
    }


class WebhookNotifier(Notifier):
    def __init__(
        self,
        settings: WebhookChannel,
        events: Iterable[NotifyEvent | str] = ALL_EVENTS,
        *,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(events)
        self.settings = settings
        self.secret_envs = tuple(e for e in (settings.secret_env,) if e)
        self.timeout = timeout
        parts = urlsplit(settings.url)
        self.name = f"webhook:{parts.netloc.rpartition('@')[2]}{parts.path}"  # no query, no user
        self._deliveries: dict[tuple[str, str], str] = {}
        # credentials someone put in the URL stay out of results and logs
        self.add_secret(parts.password or "")
        self.add_secret(parts.query)

    def delivery_id(self, event: str, report: RunReport) -> str:
        return self._deliveries.setdefault((event, report.run_id), str(uuid.uuid4()))

    def send(self, event: str, report: RunReport) -> str:
        delivery = self.delivery_id(event, report)
        body = encode(webhook_payload(event, report, delivery))
        headers = {EVENT_HEADER: event, DELIVERY_HEADER: delivery}
        if self.settings.secret_env:
            secret = self.read_secret(self.settings.secret_env, "webhook signing secret")
            headers[SIGNATURE_HEADER] = sign(secret, body)
        answer = post_json(
            self.settings.url,
            body,
            headers,
            what="the webhook receiver",
            fix="check webhook.url in trainchain.yaml and that the receiver accepts the "
            "signature (same secret on both sides)",
            timeout=self.timeout,
        )
        return f"HTTP {answer.status}, delivery {delivery}"
