"""Git and URLs (docs/security.md, "Git and URLs"): no URL is read as a git option, only
allowed schemes reach git, credentials in URLs are never shown and do not change matching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.cli import trainchain

from trainchain.errors import SourceError
from trainchain.server.app import create_app
from trainchain.server.polling import remote_head
from trainchain.server.testing import github_delivery, make_client
from trainchain.stages.fetch import fetch
from trainchain.store import Store

CREDENTIAL = "ghp_s3cr3tT0ken"


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'sec.db'}")


@pytest.fixture()
def client(store: Store) -> Any:
    with make_client(create_app(store, start_worker=False)) as c:
        yield c


def test_polling_never_passes_the_url_as_a_git_option(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(SourceError):
        remote_head(f"--upload-pack=touch {marker}", "main", timeout=20)
    assert not marker.exists()


def test_fetch_refuses_a_url_that_git_would_read_as_an_option(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(SourceError) as refused:
        fetch(f"--upload-pack=touch {marker} x.git", None, tmp_path / "dest")
    assert "starts with '-'" in refused.value.message and not marker.exists()


def test_api_refuses_an_option_as_a_project_url(client: Any, store: Store) -> None:
    r = client.post("/api/projects", json={"url": "--upload-pack=touch /tmp/x", "poll_seconds": 5})
    assert r.status_code == 400 and "starts with '-'" in r.json()["error"]
    assert store.projects() == []


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/x",
        "file:///etc",
        "/srv/repo",
        "http://example.org/a/b.git",
        "git://example.org/a/b.git",
    ],
)
def test_api_allows_only_https_ssh_and_scp_urls(client: Any, url: str) -> None:
    r = client.post("/api/projects", json={"url": url})
    assert r.status_code == 400, r.text
    assert client.post("/api/runs", json={"source": url}).status_code == 400


def test_cli_refuses_an_option_as_a_url_but_accepts_a_local_path(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    refused = trainchain(
        "projects", "add", f"--upload-pack=touch {marker}", "--poll", "5s", "--insecure-unsigned"
    )
    assert refused.returncode != 0 and not marker.exists()
    local = trainchain("projects", "add", str(tmp_path), "--name", "local", "--insecure-unsigned")
    assert local.returncode == 0, local.stderr


def test_credentials_in_urls_are_redacted_and_matched_without_them(
    client: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEC_HOOK", "hook-secret")
    url = f"https://bot:{CREDENTIAL}@127.0.0.1:9/acme/forest.git"
    added = client.post("/api/projects", json={"url": url, "secret_env": "SEC_HOOK"})
    assert added.status_code == 201 and CREDENTIAL not in added.text
    assert added.json()["name"] == "forest"
    assert CREDENTIAL not in client.get("/api/projects").text
    # GitHub names the repository without credentials: it must still match the project
    body, headers = github_delivery(
        {
            "ref": "refs/heads/main",
            "after": "a" * 40,
            "repository": {"clone_url": "https://127.0.0.1:9/acme/forest.git"},
        },
        "hook-secret",
    )
    queued = client.post("/hooks/github", content=body, headers=headers)
    assert queued.status_code == 202, queued.text
    run_id = queued.json()["run_id"]
    # the fetch fails (nothing listens on port 9): the error names the URL, not the token
    with pytest.raises(SourceError) as failed:
        fetch(url, None, Path(store.url.split("///")[-1]).parent / "dest")
    assert CREDENTIAL not in str(failed.value) and "***@127.0.0.1" in str(failed.value)
    for text in (
        client.get(f"/api/runs/{run_id}").text,
        client.get("/api/runs").text,
        client.get(f"/runs/{run_id}").text,
    ):
        assert CREDENTIAL not in text
