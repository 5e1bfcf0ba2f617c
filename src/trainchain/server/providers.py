"""What differs between forges: headers, how a delivery is authenticated, where the URLs are.

GitHub signs the body (``X-Hub-Signature-256: sha256=<hmac>``), Gitea signs it without the
prefix (``X-Gitea-Signature``), GitLab sends the shared secret itself (``X-Gitlab-Token``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trainchain.signing import hmac_hex, same, sign


@dataclass(frozen=True)
class Provider:
    name: str
    event_header: str
    delivery_header: str
    auth_header: str
    expected: Callable[[str, bytes], str]  # the auth header's right value for (secret, body)
    url_keys: tuple[tuple[str, str], ...]  # (object, key) pairs holding the repository URL
    push_events: tuple[str, ...]
    ping_events: tuple[str, ...] = ()

    def urls(self, payload: dict[str, Any]) -> list[str]:
        found = []
        for obj, key in self.url_keys:
            section = payload.get(obj)
            if isinstance(section, dict) and isinstance(section.get(key), str):
                found.append(section[key])
        return found

    def authentic(self, secret: str, body: bytes, header: str) -> bool:
        return same(header.strip(), self.expected(secret, body))

    def delivery_id(self, headers: dict[str, str], body: bytes) -> str | None:
        value = headers.get(self.delivery_header.lower())
        if value:
            return value if self.name == "github" else f"{self.name}:{value}"
        if self.name == "gitlab":  # older GitLab sends no per-delivery id: the body is the id
            return "gitlab:sha256:" + hashlib.sha256(body).hexdigest()
        return None


_REPO_KEYS = (
    ("repository", "clone_url"),
    ("repository", "html_url"),
    ("repository", "ssh_url"),
    ("repository", "git_url"),
)

PROVIDERS = {
    "github": Provider(
        "github",
        "X-GitHub-Event",
        "X-GitHub-Delivery",
        "X-Hub-Signature-256",
        sign,
        _REPO_KEYS + (("repository", "url"),),
        ("push",),
        ("ping",),
    ),
    "gitea": Provider(
        "gitea",
        "X-Gitea-Event",
        "X-Gitea-Delivery",
        "X-Gitea-Signature",
        hmac_hex,
        _REPO_KEYS,
        ("push",),
    ),
    "gitlab": Provider(
        "gitlab",
        "X-Gitlab-Event",
        "X-Gitlab-Event-UUID",
        "X-Gitlab-Token",
        lambda secret, _body: secret,
        (
            ("project", "git_http_url"),
            ("project", "git_ssh_url"),
            ("project", "web_url"),
            ("repository", "git_http_url"),
            ("repository", "git_ssh_url"),
            ("repository", "homepage"),
        ),
        ("Push Hook", "Tag Push Hook"),
    ),
}
