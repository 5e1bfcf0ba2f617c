"""Helpers for tests of the server: a TestClient and GitHub-style signed deliveries."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

from trainchain.signing import sign


def auth_headers(app: Any) -> dict[str, str]:
    """The header that carries the app's API token."""
    return {"Authorization": f"Bearer {app.state.token}"}


def make_client(app: Any, authenticated: bool = True, **options: Any) -> Any:
    """FastAPI's TestClient on a loopback Host, sending the app's token unless told not to;
    starlette warns about plain httpx at import, which is harmless."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient
    headers = auth_headers(app) if authenticated else {}
    return TestClient(app, base_url="http://127.0.0.1", headers=headers, **options)


def github_delivery(
    payload: dict[str, Any],
    secret: str | None,
    event: str = "push",
    delivery: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Body and headers as GitHub sends them (signature over the exact bytes)."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return body, headers


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """A real uvicorn server on a free 127.0.0.1 port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
