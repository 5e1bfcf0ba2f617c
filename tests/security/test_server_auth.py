"""Auth by default (docs/security.md, "The network"): a token always, a login cookie for the
dashboard, no token in URLs, Host and Origin checks, body limits before any route runs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from trainchain.server.app import create_app
from trainchain.server.auth import SESSION_COOKIE, token_path
from trainchain.server.testing import make_client
from trainchain.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'auth.db'}")


def test_without_any_setting_a_token_is_made_0600_and_required(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRAINCHAIN_API_TOKEN", raising=False)
    app = create_app(store, start_worker=False)
    saved = token_path()
    assert saved.read_text().strip() == app.state.token and len(app.state.token) >= 32
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with make_client(app, authenticated=False) as c:
        r = c.post("/api/projects", json={"url": "--upload-pack=touch /tmp/x", "poll_seconds": 5})
        assert r.status_code == 401
        for path in ("/api/projects", "/", "/models", "/metrics", "/docs", "/openapi.json"):
            assert c.get(path).status_code == 401, path
        assert c.get("/healthz").status_code == 200
    assert create_app(store, start_worker=False).state.token == app.state.token  # kept


def test_token_in_the_url_is_not_accepted(store: Store) -> None:
    app = create_app(store, start_worker=False, token="t" * 40)
    with make_client(app, authenticated=False) as c:
        assert c.get(f"/api/runs?token={'t' * 40}").status_code == 401
        assert c.get(f"/?token={'t' * 40}").status_code == 401


def test_foreign_host_is_refused_even_with_the_token(store: Store) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    app = create_app(store, start_worker=False)
    with make_client(app) as c:
        r = c.get("/api/projects", headers={"Host": "evil.example:8080"})
        assert r.status_code == 400 and "--allowed-host" in r.json()["error"]
        assert c.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
        assert c.get("/api/projects", headers={"Host": "localhost:8080"}).status_code == 200
    named = create_app(store, start_worker=False, allowed_hosts=["ci.example.org"])
    with make_client(named) as c:
        assert c.get("/api/projects", headers={"Host": "ci.example.org"}).status_code == 200


def test_state_change_from_another_origin_is_refused(store: Store) -> None:
    app = create_app(store, start_worker=False)
    body = {"url": "https://example.org/a/b.git", "poll_seconds": 60}
    with make_client(app) as c:
        r = c.post("/api/projects", json=body, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and store.projects() == []
        ok = c.post("/api/projects", json=body, headers={"Origin": "http://127.0.0.1:8080"})
        assert ok.status_code == 201


def test_login_form_sets_an_httponly_samesite_cookie(store: Store) -> None:
    app = create_app(store, start_worker=False, token="dashboard-token-" + "x" * 20)
    with make_client(app, authenticated=False) as c:
        page = c.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login"
        login = c.get("/login").text
        assert 'name="token"' in login and 'action="/logout"' not in login  # one submit button
        wrong = c.post("/login", data={"token": "nope"}, follow_redirects=False)
        assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.headers.get(
            "set-cookie", ""
        )
        ok = c.post("/login", data={"token": app.state.token}, follow_redirects=False)
        cookie = ok.headers["set-cookie"]
        assert ok.status_code == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert app.state.token not in cookie
        home = c.get("/")
        assert home.status_code == 200 and c.get("/api/runs").status_code == 200
        assert 'action="/logout"' in home.text and "token=" not in home.text
        out = c.post("/logout", follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (
            c.get("/", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303
        )


@pytest.mark.parametrize("path", ["/api/projects", "/api/runs", "/login", "/hooks/github"])
def test_oversized_body_is_413_before_auth(store: Store, path: str) -> None:
    app = create_app(store, start_worker=False)
    with make_client(app, authenticated=False) as c:
        r = c.post(
            path, content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 413


@pytest.mark.parametrize("path", ["/hooks/github", "/api/runs"])
def test_deeply_nested_json_is_400_not_500(store: Store, path: str) -> None:
    app = create_app(store, start_worker=False)
    with make_client(app, raise_server_exceptions=False) as c:
        body = "[" * 100_000 + "]" * 100_000
        r = c.post(
            path,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": "deep",
            },
        )
        assert r.status_code == 400 and "error" in r.json()


def test_operator_can_open_metrics_and_docs(store: Store) -> None:
    app = create_app(store, start_worker=False, open_paths=["/metrics", "/docs", "/openapi.json"])
    with make_client(app, authenticated=False) as c:
        assert c.get("/metrics").status_code == 200 and c.get("/docs").status_code == 200
        assert c.get("/api/runs").status_code == 401
