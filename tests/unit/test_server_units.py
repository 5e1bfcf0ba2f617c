"""Pure helpers of the server: URL matching, branch globs, signature, CLI parsing."""

from __future__ import annotations

import pytest

from trainchain.cli.serve import is_loopback, parse_interval
from trainchain.errors import UsageError
from trainchain.server.records import branch_matches, normalize_url
from trainchain.signing import sign


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Codertocat/Hello-World.git",
        "https://github.com/codertocat/hello-world",
        "git@github.com:Codertocat/Hello-World.git",
        "ssh://git@github.com/Codertocat/Hello-World/",
    ],
)
def test_every_form_of_a_repository_url_matches(url: str) -> None:
    assert normalize_url(url) == "github.com/codertocat/hello-world"


def test_different_repositories_do_not_match() -> None:
    assert normalize_url("https://github.com/a/b.git") != normalize_url("https://github.com/a/bb")


def test_branch_globs() -> None:
    assert branch_matches("main", "main") and not branch_matches("main", "main2")
    assert branch_matches("release/*", "release/1.2") and branch_matches("*", "x")


def test_signature_is_githubs() -> None:
    # the example from GitHub's "Validating webhook deliveries" documentation
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign("It's a Secret to Everybody", b"Hello, World!") == expected


@pytest.mark.parametrize(("text", "seconds"), [("60", 60), ("60s", 60), ("5m", 300), ("1h", 3600)])
def test_intervals(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


def test_bad_interval_names_the_fix() -> None:
    with pytest.raises(UsageError, match="60s, 5m or 1h"):
        parse_interval("soon")


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
