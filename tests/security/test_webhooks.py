"""Webhooks (docs/security.md, "Webhooks"): a secret unless the operator opted out, only full
commit ids, replays caught by commit as well as by delivery id, one answer for strangers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.cli import trainchain

from trainchain.server import records
from trainchain.server.app import create_app
from trainchain.server.testing import github_delivery, make_client
from trainchain.store import Run, Store

URL = "https://github.com/acme/forest.git"
SECRET = "forest-hook-secret"


def push(after: str, branch: str = "main") -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{branch}",
        "after": after,
        "deleted": False,
        "repository": {"clone_url": URL},
    }


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'hooks.db'}")


def runs(store: Store) -> list[Run]:
    with store.session() as s:
        return list(s.scalars(select(Run)))


def test_a_project_needs_a_secret_unless_explicitly_unsigned(store: Store) -> None:
    with make_client(create_app(store, start_worker=False)) as c:
        r = c.post("/api/projects", json={"url": URL})
        assert r.status_code == 400 and "--insecure-unsigned" in r.json()["error"]
    refused = trainchain("projects", "add", URL)
    assert refused.returncode == 2 and "--secret-env" in refused.stderr


def test_unsigned_push_to_a_project_without_secret_is_refused(store: Store) -> None:
    with store.session() as s:  # a project as main stored it: no secret, no opt-in
        from trainchain.store import Project

        s.add(Project(name="forest", url=URL, branch="main", poll_seconds=60))
    with make_client(create_app(store, start_worker=False)) as c:
        body, headers = github_delivery(push("a" * 40), None)
        assert c.post("/hooks/github", content=body, headers=headers).status_code == 401
    assert runs(store) == []


@pytest.mark.parametrize("after", ["origin/evil", "evil", "a" * 39, "A" * 40 + "x", "HEAD~1"])
def test_after_must_be_a_full_commit_id(store: Store, after: str) -> None:
    records.add_project(store, URL, insecure_unsigned=True)
    with make_client(create_app(store, start_worker=False)) as c:
        body, headers = github_delivery(push(after), None)
        r = c.post("/hooks/github", content=body, headers=headers)
        assert r.status_code == 400 and "full commit id" in r.json()["error"]
    assert runs(store) == []


def test_a_replayed_body_with_a_new_delivery_id_is_a_duplicate(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOREST_SECRET", SECRET)
    records.add_project(store, URL, secret_env="FOREST_SECRET")
    with make_client(create_app(store, start_worker=False)) as c:
        body, headers = github_delivery(push("b" * 40), SECRET, delivery="one")
        first = c.post("/hooks/github", content=body, headers=headers)
        assert first.status_code == 202
        replay = c.post(
            "/hooks/github", content=body, headers={**headers, "X-GitHub-Delivery": "two"}
        )
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
        assert replay.json()["run_id"] == first.json()["run_id"]
    assert len(runs(store)) == 1


def test_unknown_repository_and_bad_signature_answer_alike(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOREST_SECRET", SECRET)
    records.add_project(store, URL, secret_env="FOREST_SECRET")
    with make_client(create_app(store, start_worker=False)) as c:
        body, headers = github_delivery(push("c" * 40), "guess")
        forged = c.post("/hooks/github", content=body, headers=headers)
        other = {**push("c" * 40), "repository": {"clone_url": "https://github.com/x/y.git"}}
        body, headers = github_delivery(other, "guess")
        unknown = c.post("/hooks/github", content=body, headers=headers)
    assert (forged.status_code, forged.json()) == (unknown.status_code, unknown.json())
    assert runs(store) == []
