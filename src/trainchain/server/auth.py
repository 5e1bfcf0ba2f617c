"""Bearer-token check: on when ``TRAINCHAIN_API_TOKEN`` is set (read per request)."""

from __future__ import annotations

import hmac
import os

from fastapi import Request

from trainchain.server.errors import UnauthorizedError

TOKEN_ENV = "TRAINCHAIN_API_TOKEN"


def token_ok(request: Request) -> bool:
    expected = os.environ.get(TOKEN_ENV)
    if not expected:
        return True
    given = request.headers.get("authorization", "")
    if given.lower().startswith("bearer "):
        given = given[7:].strip()
    else:
        given = request.query_params.get("token", "")
    return hmac.compare_digest(given.encode(), expected.encode())


def require_token(request: Request) -> None:
    if not token_ok(request):
        raise UnauthorizedError(
            f"missing or wrong API token; send `Authorization: Bearer $TRAINCHAIN_API_TOKEN` "
            f"(the value of ${TOKEN_ENV} on the server)"
        )


def require_page_token(request: Request) -> None:
    """Dashboard pages: open when the server is bound to loopback, else the same token."""
    if getattr(request.app.state, "open_dashboard", False):
        return
    require_token(request)
