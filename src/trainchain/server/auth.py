"""Who may talk to the server: the API token, the dashboard's session cookie, Host and Origin.

Every request passes ``Guard`` (a plain ASGI middleware, so nothing of the app runs first):

1. the ``Host`` header must name this server (``--allowed-host``; loopback names by default),
   which defeats DNS rebinding;
2. a declared body over the limit is refused, and a streamed one is cut at the limit, before
   any route reads it;
3. a state-changing request whose ``Origin`` is another site is refused;
4. except for the public paths (health, webhooks that carry their own signature, login, static
   files), the request carries the token: ``Authorization: Bearer <token>`` or the dashboard's
   session cookie (HttpOnly, SameSite=Strict). Tokens in URLs are not accepted: they end up in
   access logs and browser history.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from trainchain import paths
from trainchain.settings import operator_settings
from trainchain.signing import hmac_hex, same

TOKEN_ENV = "TRAINCHAIN_API_TOKEN"
TOKEN_FILE = "api-token"
SESSION_COOKIE = "trainchain_session"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_BODY = 1024 * 1024
PUBLIC_PREFIXES = ("/hooks/", "/static/")
PUBLIC_PATHS = ("/healthz", "/login", "/logout")
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def token_path() -> Path:
    return paths.home() / TOKEN_FILE


def server_token() -> tuple[str, bool]:
    """The token: ``$TRAINCHAIN_API_TOKEN``, else the one saved under TRAINCHAIN_HOME, else a
    new one saved there (0600). Returns it and whether it was just created."""
    given = (operator_settings().api_token or "").strip()
    if given:
        return given, False
    path = token_path()
    if path.is_file():
        saved = path.read_text(encoding="utf-8").strip()
        if saved:
            return saved, False
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)
    return token, True


def session_value(token: str) -> str:
    """The cookie's value: derived from the token, so the token itself never sits in a cookie."""
    return hmac_hex(token, b"trainchain-dashboard-session")


def host_name(value: str) -> str:
    """``example.com:8080`` -> ``example.com``; ``[::1]:8080`` -> ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass
class Guard:
    """The ASGI middleware described in the module docstring."""

    app: ASGIApp
    token: str
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS
    open_paths: Iterable[str] = ()
    max_body: int = MAX_BODY
    _hosts: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self._hosts = frozenset(h.strip().lower().strip("[]") for h in self.allowed_hosts)
        self.open_paths = tuple(self.open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._refusal(scope, headers)
        if problem is not None:
            status, message = problem
            if status == 401 and self._wants_page(scope, headers):
                await _redirect(send, "/login")
            else:
                await _json(send, status, message)
            return
        await self._limited(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = host_name(headers.get("host", ""))
        if "*" not in self._hosts and host not in self._hosts:
            return 400, (
                f"Host {host or '(none)'!r} is not one this server answers to; the operator "
                "lists the names it is reached by with `trainchain serve --allowed-host NAME`"
            )
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return 413, f"request body of {declared} bytes is over the {self.max_body}-byte limit"
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin and not self._same_site(origin):
            return 403, (
                f"Origin {origin!r} is another site; state-changing requests come from this "
                "server's own pages or from clients that send no Origin"
            )
        if self._public(scope["path"]) or self._authenticated(headers):
            return None
        return 401, (
            "missing or wrong API token; send `Authorization: Bearer <token>` (the value of "
            f"${TOKEN_ENV}, or of {token_path()} on the server) or log in at /login"
        )

    def _same_site(self, origin: str) -> bool:
        name = (urlsplit(origin).hostname or "").lower()
        return "*" in self._hosts or name in self._hosts

    def _public(self, path: str) -> bool:
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return True
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.open_paths)

    def _authenticated(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "")
        if given.lower().startswith("bearer "):
            return same(given[7:].strip(), self.token)
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is just no cookie
            return False
        morsel = cookie.get(SESSION_COOKIE)
        return morsel is not None and same(morsel.value, session_value(self.token))

    @staticmethod
    def _wants_page(scope: Scope, headers: dict[str, str]) -> bool:
        path = str(scope["path"])
        return (
            scope["method"] == "GET"
            and not path.startswith("/api")
            and "text/html" in headers.get("accept", "")
        )

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The body is read here, up to ``max_body`` (413 past it), then handed to the app:
        no route ever holds more than the limit in memory."""
        buffered: list[Message] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                buffered.append(message)  # a disconnect: let the app see it
                break
            size += len(message.get("body", b""))
            if size > self.max_body:
                await _json(send, 413, f"request body is over the {self.max_body}-byte limit")
                return
            buffered.append(message)
            more = bool(message.get("more_body", False))

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


async def _json(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
