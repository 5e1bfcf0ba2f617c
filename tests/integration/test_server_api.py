"""REST API: projects, runs, models, token, errors as JSON, metrics; and the CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.cli import trainchain
from tests.records import add_versions

from trainchain.pipeline import Pipeline
from trainchain.server.app import create_app
from trainchain.server.testing import make_client
from trainchain.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'api.db'}")


@pytest.fixture()
def client(store: Store) -> Any:
    with make_client(create_app(store, start_worker=False)) as c:
        yield c


def test_projects_crud(client: Any) -> None:
    r = client.post(
        "/api/projects",
        json={"url": "https://example.org/a/b.git", "branch": "dev", "secret_env": "B_SECRET"},
    )
    assert r.status_code == 201 and r.json()["name"] == "b"
    again = client.post(
        "/api/projects", json={"url": "https://example.org/a/b.git", "insecure_unsigned": True}
    )
    assert again.status_code == 409 and "already exists" in again.json()["error"]
    assert [p["branch"] for p in client.get("/api/projects").json()] == ["dev"]
    assert client.delete("/api/projects/b").status_code == 204
    missing = client.delete("/api/projects/b")
    assert missing.status_code == 404 and "projects list" in missing.json()["error"]


def test_bad_input_is_a_json_4xx_never_500(client: Any) -> None:
    r = client.post("/api/projects", json={"url": "", "colour": 1})
    assert r.status_code == 422 and "url" in r.json()["error"]
    bad = client.post("/api/runs", json={"source": "x", "options": {"max_trials": "many"}})
    assert 400 <= bad.status_code < 500 and "error" in bad.json()
    assert client.get("/api/runs/nope").status_code == 404
    assert client.get("/api/models/nope").status_code == 404


def test_runs_report_and_logs(client: Any, store: Store) -> None:
    run_id = client.post("/api/runs", json={"source": "https://example.org/a/proj.git"}).json()[
        "run_id"
    ]
    listed = client.get("/api/runs").json()
    assert [r["id"] for r in listed] == [run_id] and listed[0]["trigger"] == "api"
    report = client.get(f"/api/runs/{run_id}").json()
    assert report["run_id"] == run_id and report["status"] == "queued"
    assert {"stages", "trials", "metric"} <= set(report)
    logs = client.get(f"/api/runs/{run_id}/logs")
    assert logs.status_code == 200 and "no logs yet" in logs.text


def test_models(client: Any, store: Store) -> None:
    run_id = Pipeline(store).create_run("/src/digits")
    add_versions(store, "digits", run_id, {1: 0.9, 2: 0.95}, champion=2)
    (model,) = client.get("/api/models").json()
    assert model["latest"]["version"] == 2 and model["aliases"] == {"champion": 2}
    detail = client.get("/api/models/digits").json()
    assert [v["aliases"] for v in detail["versions"]] == [[], ["champion"]]


def test_token_guards_api_and_pages_but_not_hooks_or_health(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINCHAIN_API_TOKEN", "s3cret")
    with make_client(create_app(store, start_worker=False), authenticated=False) as c:
        denied = c.get("/api/runs")
        assert denied.status_code == 401 and "TRAINCHAIN_API_TOKEN" in denied.json()["error"]
        assert c.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/runs", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/").status_code == 401 and c.get("/?token=s3cret").status_code == 401
        assert c.get("/healthz").status_code == 200
        assert (
            c.post("/hooks/github", content=b"{}", headers={"X-GitHub-Event": "push"}).status_code
            == 401
        )  # no project


def test_metrics_and_openapi(client: Any) -> None:
    client.post("/api/runs", json={"source": "https://example.org/a/a.git"})
    text = client.get("/metrics").text
    assert 'trainchain_runs{status="queued"} 1' in text and "trainchain_queue_length 1" in text
    from prometheus_client.parser import text_string_to_metric_families

    samples = {
        (s.name, s.labels.get("status", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }  # valid exposition format, every status present
    assert (
        samples[("trainchain_runs", "queued")] == 1 and samples[("trainchain_runs", "failed")] == 0
    )
    assert samples[("trainchain_queue_length", "")] == 1
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/hooks/github", "/api/runs", "/api/runs/{run_id}", "/api/models"} <= set(paths)


def test_cli_projects_and_serve_refusal(tmp_path: Path) -> None:
    env = {"TRAINCHAIN_API_TOKEN": ""}
    added = trainchain(
        "projects",
        "add",
        "https://example.org/x/demo.git",
        "--branch",
        "main",
        "--secret-env",
        "GITHUB_WEBHOOK_SECRET",
        "--poll",
        "1m",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    listed = trainchain("projects", "list", env=env)
    assert "demo" in listed.stdout and "poll 60s" in listed.stdout
    dup = trainchain(
        "projects", "add", "https://example.org/x/demo.git", "--insecure-unsigned", env=env
    )
    assert dup.returncode == 2 and "already exists" in dup.stderr
    assert trainchain("projects", "remove", "demo", env=env).returncode == 0
    gone = trainchain("projects", "remove", "demo", env=env)
    assert gone.returncode == 2 and "no project 'demo'" in gone.stderr
    refused = trainchain("serve", "--host", "0.0.0.0", env=env)
    assert refused.returncode == 2 and "--allowed-host" in refused.stderr
    bad_poll = trainchain("projects", "add", "https://e.org/a/b.git", "--poll", "soon", env=env)
    assert bad_poll.returncode == 2 and "--poll 'soon'" in bad_poll.stderr
