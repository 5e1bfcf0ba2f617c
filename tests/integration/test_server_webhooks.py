"""Webhooks with GitHub's own example payloads, signed as GitHub signs them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.services import require_shared_data

from trainchain.server.app import create_app
from trainchain.server.testing import github_delivery, make_client
from trainchain.signing import hmac_hex
from trainchain.store import Project, Run, Store, WebhookDelivery

SECRET = "It's a Secret to Everybody"
URL = "https://github.com/Codertocat/Hello-World.git"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (require_shared_data("webhooks", "github") / name).read_text(encoding="utf-8")
    )
    return data


def push(branch: str, sha: str) -> dict[str, Any]:
    data = copy.deepcopy(payload("push-with-new-branch.payload.json"))
    data.update(ref=f"refs/heads/{branch}", after=sha, deleted=False)
    return data


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'server.db'}")


@pytest.fixture()
def client(store: Store, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    with store.session() as s:
        s.add(Project(name="hello", url=URL, branch="master", secret_env="HOOK_SECRET"))
    with make_client(create_app(store, start_worker=False)) as c:
        yield c


def runs(store: Store) -> list[Run]:
    with store.session() as s:
        return list(s.scalars(select(Run).order_by(Run.created_at)))


def send(
    client: Any,
    data: dict[str, Any],
    secret: str | None = SECRET,
    event: str = "push",
    delivery: str | None = None,
) -> Any:
    body, headers = github_delivery(data, secret, event, delivery)
    return client.post("/hooks/github", content=body, headers=headers)


def test_push_creates_exactly_one_queued_run(client: Any, store: Store) -> None:
    data = payload("push-with-new-branch.payload.json")
    r = send(client, data)
    assert r.status_code == 202, r.text
    body = r.json()
    (run,) = runs(store)
    assert body["run_id"] == run.id
    assert (run.status, run.branch, run.ref, run.trigger) == (
        "queued",
        "master",
        data["after"],
        "webhook",
    )
    assert run.source == URL and run.project_id is not None


def test_redelivery_does_not_start_a_second_run(client: Any, store: Store) -> None:
    data = push("master", "a" * 40)
    first = send(client, data, delivery="d-1")
    again = send(client, data, delivery="d-1")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["run_id"] == first.json()["run_id"]
    assert len(runs(store)) == 1


@pytest.mark.parametrize("secret", [None, "wrong secret"])
def test_bad_or_missing_signature_is_401(client: Any, store: Store, secret: str | None) -> None:
    r = send(client, push("master", "b" * 40), secret=secret)
    assert r.status_code == 401
    assert "X-Hub-Signature-256" in r.json()["error"]
    assert runs(store) == []


def test_tampered_body_is_401(client: Any, store: Store) -> None:
    body, headers = github_delivery(push("master", "c" * 40), SECRET)
    r = client.post("/hooks/github", content=body.replace(b"master", b"evilxx"), headers=headers)
    assert r.status_code == 401 and runs(store) == []


def test_unknown_project_is_401_like_a_bad_signature(client: Any, store: Store) -> None:
    data = push("master", "d" * 40)
    data["repository"].update(
        clone_url="https://github.com/x/y.git",
        html_url="https://github.com/x/y",
        ssh_url="git@github.com:x/y.git",
        git_url="git://github.com/x/y.git",
        url="https://api.github.com/repos/x/y",
    )
    r = send(client, data)
    assert r.status_code == 401 and "projects add" in r.json()["error"]
    assert r.json() == send(client, push("master", "d" * 40), secret="wrong").json()
    assert runs(store) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (lambda: payload("push-payload.json"), "not a branch"),  # GitHub's tag deletion sample
        (lambda: {**push("master", "0" * 40), "deleted": True}, "deleted"),
        (lambda: push("feature/x", "e" * 40), "not watched"),
    ],
)
def test_ignored_pushes_answer_202_with_a_reason(
    client: Any, store: Store, data: Any, reason: str
) -> None:
    r = send(client, data())
    assert r.status_code == 202
    assert r.json()["status"] == "ignored" and reason in r.json()["reason"]
    assert runs(store) == []


def test_body_over_one_mib_is_413(client: Any, store: Store) -> None:
    data = push("master", "f" * 40)
    data["padding"] = "x" * (1024 * 1024)
    r = send(client, data)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert runs(store) == []


def test_ping_answers_pong_without_a_run(client: Any, store: Store) -> None:
    data = payload("ping-payload.json")
    data["repository"]["clone_url"] = URL
    r = send(client, data, event="ping")
    assert r.status_code == 200 and r.json()["status"] == "pong"
    assert runs(store) == []


def test_newer_push_supersedes_the_queued_one(client: Any, store: Store) -> None:
    old = send(client, push("master", "1" * 40)).json()["run_id"]
    new = send(client, push("master", "2" * 40)).json()["run_id"]
    status = {r.id: r.status for r in runs(store)}
    assert status == {old: "superseded", new: "queued"}
    with store.session() as s:
        assert [d.result for d in s.scalars(select(WebhookDelivery))] == ["queued", "queued"]


def test_not_json_is_400(client: Any) -> None:
    r = client.post(
        "/hooks/github",
        content=b"{nope",
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "x"},
    )
    assert r.status_code == 400 and "not JSON" in r.json()["error"]


def test_gitea_push_signed_with_x_gitea_signature(client: Any, store: Store) -> None:
    data = push("master", "3" * 40)  # Gitea's push payload has GitHub's shape
    body = json.dumps(data).encode()
    headers = {
        "X-Gitea-Event": "push",
        "X-Gitea-Delivery": "g-1",
        "X-Gitea-Signature": hmac_hex(SECRET, body),
    }
    assert client.post("/hooks/gitea", content=body, headers=headers).status_code == 202
    headers["X-Gitea-Signature"] = hmac_hex("wrong", body)
    headers["X-Gitea-Delivery"] = "g-2"
    assert client.post("/hooks/gitea", content=body, headers=headers).status_code == 401
    (run,) = runs(store)
    assert (run.ref, run.branch) == ("3" * 40, "master")


def test_gitlab_push_with_x_gitlab_token(client: Any, store: Store) -> None:
    data = {
        "object_kind": "push",
        "ref": "refs/heads/master",
        "after": "4" * 40,
        "project": {"git_http_url": URL, "web_url": URL.removesuffix(".git")},
    }
    body = json.dumps(data).encode()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET}
    first = client.post("/hooks/gitlab", content=body, headers=headers)
    again = client.post("/hooks/gitlab", content=body, headers=headers)  # same body: redelivery
    wrong = client.post(
        "/hooks/gitlab", content=body, headers={**headers, "X-Gitlab-Token": "nope"}
    )
    assert (first.status_code, again.status_code, wrong.status_code) == (202, 200, 401)
    assert [r.ref for r in runs(store)] == ["4" * 40]
