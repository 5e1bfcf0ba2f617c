"""HMAC-SHA256 signatures, one implementation for both directions: the webhooks trainchain
receives (GitHub's ``X-Hub-Signature-256``, Gitea's bare hex) and the ones it sends
(``X-Trainchain-Signature-256``), and the dashboard's session cookie."""

from __future__ import annotations

import hashlib
import hmac


def hmac_hex(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` under ``secret`` (UTF-8)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes) -> str:
    """The ``sha256=<hex>`` signature header value GitHub uses and trainchain sends."""
    return "sha256=" + hmac_hex(secret, body)


def same(given: str, expected: str) -> bool:
    """Constant-time equality of a presented secret or signature; an empty one never matches."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())
