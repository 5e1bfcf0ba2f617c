"""The notify: list of trainchain.yaml: one channel per item, on: lists, every error at once."""

from __future__ import annotations

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from trainchain.errors import ConfigError
from trainchain.notify.config import (
    DEFAULT_EVENTS,
    EmailChannel,
    NotifyChannel,
    NotifyEvent,
    parse_notify,
)

ISSUE_EXAMPLE = """
notify:
  - email: {to: [ml-team@example.com], smtp_url_env: TRAINCHAIN_SMTP_URL}
  - slack: {webhook_url_env: SLACK_WEBHOOK_URL}
  - webhook: {url: https://hooks.example.com/trainchain, secret_env: HOOK_SECRET}
  - github_status: {token_env: GITHUB_TOKEN}
    on: [started, succeeded, target_not_reached, failed]
"""


def test_the_issue_example_parses_with_a_bare_on_key() -> None:
    raw = yaml.safe_load(ISSUE_EXAMPLE)["notify"]
    assert True in raw[3]  # PyYAML reads the bare `on` as a boolean; we accept it
    email, slack, webhook, github = parse_notify(raw)
    assert [c.kind for c in (email, slack, webhook, github)] == [
        "email",
        "slack",
        "webhook",
        "github_status",
    ]
    assert email.on == DEFAULT_EVENTS and not email.wants("started") and email.wants("failed")
    assert github.on == tuple(NotifyEvent) and github.wants(NotifyEvent.STARTED)
    assert isinstance(email.settings, EmailChannel) and email.settings.to == (
        "ml-team@example.com",
    )
    assert github.github_status is not None
    assert github.github_status.api_url == "https://api.github.com"
    assert github.github_status.context == "trainchain" and github.github_status.repo is None
    assert webhook.webhook is not None and webhook.webhook.secret_env == "HOOK_SECRET"


def test_from_is_accepted_as_the_yaml_key() -> None:
    (item,) = parse_notify([{"email": {"to": ["a@x.org"], "smtp_url_env": "S", "from": "b@x.org"}}])
    assert item.email is not None and item.email.from_ == "b@x.org"


def test_models_are_frozen() -> None:
    (item,) = parse_notify([{"slack": {"webhook_url_env": "S"}}])
    with pytest.raises(ValidationError):
        setattr(item, "on", ())  # noqa: B010 - mypy would refuse the plain assignment


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({}, "needs exactly one channel, found none"),
        (
            {"slack": {"webhook_url_env": "A"}, "webhook": {"url": "http://x"}},
            "needs exactly one channel, found slack, webhook",
        ),
        ({"teams": {"url": "x"}}, "unknown key(s) 'teams'"),
        ({"slack": {"webhook_url_env": "A", "url": "http://x"}}, "notify[0].slack.url"),
        (
            {"slack": {"webhook_url_env": "https://hooks.slack.com/services/x"}},
            "notify[0].slack.webhook_url_env: String should match pattern",
        ),
        ({"email": {"to": ["not-an-address"], "smtp_url_env": "S"}}, "'not-an-address'"),
        ({"email": {"to": [], "smtp_url_env": "S"}}, "notify[0].email.to"),
        ({"webhook": {"url": "ftp://x"}}, "notify[0].webhook.url"),
        ({"github_status": {"token_env": "T", "repo": "just-a-name"}}, "github_status.repo"),
        ({"slack": {"webhook_url_env": "A"}, "on": ["finished"]}, "notify[0].on[0]"),
        ({"slack": {"webhook_url_env": "A"}, "on": []}, "notify[0].on"),
    ],
)
def test_bad_items_name_the_place_and_the_fix(item: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_notify([item])
    assert expected in info.value.message


def test_every_error_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_notify([{"slack": {}}, {"slack": {"webhook_url_env": "OK"}}, {"nope": 1}])
    message = info.value.message
    assert "notify[0].slack.webhook_url_env: Field required" in message
    assert "notify[2]: unknown key(s) 'nope'" in message
    assert "notify[1]" not in message


def test_none_and_empty_mean_no_channels() -> None:
    assert parse_notify(None) == [] and parse_notify([]) == []


def test_on_true_and_on_together_is_an_error() -> None:
    with pytest.raises(ConfigError, match="keep one 'on:' list"):
        parse_notify([{"slack": {"webhook_url_env": "A"}, True: ["failed"], "on": ["failed"]}])


def test_every_field_has_a_description() -> None:
    from trainchain.notify import config

    models: list[type[BaseModel]] = [
        NotifyChannel,
        config.EmailChannel,
        config.SlackChannel,
        config.WebhookChannel,
        config.GithubStatusChannel,
    ]
    missing = [
        f"{m.__name__}.{n}" for m in models for n, f in m.model_fields.items() if not f.description
    ]
    assert missing == []


@pytest.mark.parametrize("mode", ["json", "python"])
def test_a_dumped_config_parses_back_to_the_same_channels(mode: str) -> None:
    """The pipeline stores ``config.model_dump(mode="json")`` and parses ``notify`` back."""
    raw = yaml.safe_load(ISSUE_EXAMPLE)["notify"]
    raw[0]["email"]["from"] = "bot@example.com"
    channels = parse_notify(raw)
    dumped = [c.model_dump(mode=mode) for c in channels]
    assert parse_notify(dumped) == channels
    by_alias = [c.model_dump(mode=mode, by_alias=True, exclude_none=True) for c in channels]
    assert parse_notify(by_alias) == channels
