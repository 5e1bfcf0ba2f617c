"""The ``notify:`` list of ``trainchain.yaml`` as frozen pydantic models.

Each item holds exactly one channel key plus an optional ``on:`` list of events::

    notify:
      - email: {to: [ml-team@example.com], smtp_url_env: TRAINCHAIN_SMTP_URL}
      - github_status: {token_env: GITHUB_TOKEN}
        on: [started, succeeded, target_not_reached, failed]

Secrets never appear here: the config names environment variables (``*_env``) and the
notifiers read them at send time.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from trainchain.errors import ConfigError

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_REPO = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


class NotifyEvent(enum.StrEnum):
    """What happened to a run; each channel chooses the events it hears."""

    STARTED = "started"
    SUCCEEDED = "succeeded"  # target reached
    TARGET_NOT_REACHED = "target_not_reached"  # budget spent below the target
    FAILED = "failed"  # a stage failed


DEFAULT_EVENTS = (NotifyEvent.SUCCEEDED, NotifyEvent.TARGET_NOT_REACHED, NotifyEvent.FAILED)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class EmailChannel(_Frozen):
    to: tuple[str, ...] = Field(min_length=1, description="Recipient addresses.")
    smtp_url_env: str = Field(
        pattern=ENV_NAME,
        description="Environment variable holding smtp://user:password@host:port "
        "(STARTTLS when offered) or smtps://... (implicit TLS).",
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        description="Sender address; default: the SMTP user if it is an address, "
        "else trainchain@<this host>.",
    )
    subject_prefix: str = Field(default="[trainchain]", description="Prepended to subjects.")

    @model_validator(mode="after")
    def _addresses(self) -> EmailChannel:
        bad = [
            a for a in (*self.to, *([self.from_] if self.from_ else [])) if not _ADDRESS.match(a)
        ]
        if bad:
            raise ValueError(f"not an email address: {', '.join(map(repr, bad))}; use name@host")
        return self


class SlackChannel(_Frozen):
    webhook_url_env: str = Field(
        pattern=ENV_NAME,
        description="Environment variable holding the Slack incoming-webhook URL "
        "(https://hooks.slack.com/services/...).",
    )


class WebhookChannel(_Frozen):
    url: str = Field(
        pattern=r"^https?://[^\s/]+",
        description="Where the signed JSON is POSTed (http:// or https://).",
    )
    secret_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="Environment variable holding the HMAC-SHA256 key; without it the "
        "body is not signed.",
    )


class GithubStatusChannel(_Frozen):
    token_env: str = Field(
        pattern=ENV_NAME,
        description="Environment variable holding a token allowed to write commit statuses.",
    )
    api_url: str = Field(
        default="https://api.github.com",
        pattern=r"^https?://[^\s/]+",
        description="API base URL; for GitHub Enterprise https://<host>/api/v3.",
    )
    repo: str | None = Field(
        default=None,
        pattern=_REPO,
        description="owner/name; default: derived from the run's source URL.",
    )
    context: str = Field(default="trainchain", min_length=1, description="The status context.")
    target_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Link shown on the status; '{run_id}' is replaced by the run id.",
    )


CHANNEL_KINDS = ("email", "slack", "webhook", "github_status")
ChannelSettings = EmailChannel | SlackChannel | WebhookChannel | GithubStatusChannel


class NotifyChannel(_Frozen):
    """One item of ``notify:``: exactly one channel and the events it is sent."""

    email: EmailChannel | None = Field(default=None, description="Email over SMTP.")
    slack: SlackChannel | None = Field(default=None, description="Slack incoming webhook.")
    webhook: WebhookChannel | None = Field(default=None, description="Signed JSON webhook.")
    github_status: GithubStatusChannel | None = Field(
        default=None, description="GitHub commit status on the pushed commit."
    )
    on: tuple[NotifyEvent, ...] = Field(
        default=DEFAULT_EVENTS,
        min_length=1,
        description="Events sent on this channel: started, succeeded, target_not_reached, failed.",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_channel(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if True in data:  # YAML 1.1 reads a bare `on` key as the boolean True
            if "on" in data:
                raise ValueError("both 'on' and a boolean key True given; keep one 'on:' list")
            data["on"] = data.pop(True)
        unknown = [k for k in data if k not in (*CHANNEL_KINDS, "on")]
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, unknown))}; "
                f"a notify item has one of {', '.join(CHANNEL_KINDS)} and optionally on:"
            )
        kinds = [k for k in CHANNEL_KINDS if data.get(k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) or "none"
            raise ValueError(
                f"a notify item needs exactly one channel, found {found}; "
                f"write one list item per channel ({', '.join(CHANNEL_KINDS)})"
            )
        return data

    @property
    def kind(self) -> str:
        return next(k for k in CHANNEL_KINDS if getattr(self, k) is not None)

    @property
    def settings(self) -> ChannelSettings:
        value: ChannelSettings = getattr(self, self.kind)
        return value

    def wants(self, event: str | NotifyEvent) -> bool:
        return NotifyEvent(event) in self.on


_LIST = TypeAdapter(list[NotifyChannel])


def parse_notify(items: Any) -> list[NotifyChannel]:
    """Validate the raw ``notify:`` value; every problem is reported at once as a ConfigError."""
    if items is None:
        return []
    try:
        return _LIST.validate_python(items)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, prefix="notify")) from exc


def format_errors(exc: ValidationError, prefix: str) -> str:
    """One line per problem: where, the bad value and what to write instead."""
    lines = []
    for err in exc.errors():
        where = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"{where}: {msg}{shown}")
    return "invalid notify settings in trainchain.yaml:\n  " + "\n  ".join(lines)
