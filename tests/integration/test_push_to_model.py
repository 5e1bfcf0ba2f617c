"""A push, end to end: signed GitHub webhook -> queue -> the chain trains to its target ->
model registered -> email and signed webhook sent. No secret lands in the database or logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import EXAMPLES
from tests.integration.test_notify_delivery import PASSWORD, Mailbox, Recorder
from tests.services import require_shared_data

from trainchain import paths
from trainchain.server.app import create_app
from trainchain.server.testing import auth_headers, github_delivery, live_server
from trainchain.store import Project, Store

pytestmark = pytest.mark.slow
HOOK_SECRET = "push-hook-secret-9f3"
GITHUB_SECRET = "github-secret-2b7"


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-C", str(repo), "-c", "user.email=ds@example.com", "-c", "user.name=ds", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
def test_a_push_trains_registers_and_tells_people(
    tmp_path: Path, smtp: tuple[str, Mailbox], http: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp_url, mailbox = smtp
    monkeypatch.setenv("TC_SMTP_URL", smtp_url)
    monkeypatch.setenv("TC_HOOK_SECRET", HOOK_SECRET)
    monkeypatch.setenv("TC_GITHUB_SECRET", GITHUB_SECRET)
    repo = tmp_path / "forest"
    shutil.copytree(EXAMPLES / "sklearn-digits", repo)
    # the repository tunes; where notifications go is the operator's project setting
    (repo / "trainchain.yaml").write_text("target: 0.8\nmax_trials: 8\nseed: 0\n")
    settings = {
        "runtime": "local",
        "notify": [
            {"email": {"to": ["ml-team@example.com"], "smtp_url_env": "TC_SMTP_URL"}},
            {"webhook": {"url": f"{http.url}/trainchain", "secret_env": "TC_HOOK_SECRET"}},
        ],
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "weak forest")
    sha = git(repo, "rev-parse", "HEAD")

    sample = json.loads(require_shared_data("webhooks", "github", "push-payload.json").read_text())
    sample["ref"], sample["after"], sample["deleted"] = "refs/heads/main", sha, False
    sample["repository"]["clone_url"] = str(repo)
    body, headers = github_delivery(sample, GITHUB_SECRET, delivery="push-e2e-1")

    store = Store()  # TRAINCHAIN_HOME's database: the server and the chain share it
    with store.session() as s:
        s.add(
            Project(
                name="forest",
                url=str(repo),
                branch="main",
                secret_env="TC_GITHUB_SECRET",
                options=settings,
            )
        )
    app = create_app(store)
    with (
        live_server(app) as base,
        httpx.Client(base_url=base, timeout=30, headers=auth_headers(app)) as client,
    ):
        answer = client.post("/hooks/github", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["run_id"]
        report = _wait_for_end(client, run_id, timeout=600)
    assert report["status"] == "succeeded", json.dumps(report)[:3000]
    assert report["commit"] == sha and report["branch"] == "main"
    assert report["baseline"]["value"] < 0.8 <= report["best"]["value"]
    assert report["model"]["aliases"] == ["champion"]

    (rcpts, message), *_ = mailbox.messages
    assert rcpts == ["ml-team@example.com"] and "reached the target" in message["Subject"]
    events = {r["headers"]["X-Trainchain-Event"]: r for r in http.requests}
    assert set(events) == {"succeeded"}  # `started` is opt-in (on: [started, ...])
    done = events["succeeded"]
    expected = hmac.new(HOOK_SECRET.encode(), done["body"], hashlib.sha256).hexdigest()
    assert done["headers"]["X-Trainchain-Signature-256"] == f"sha256={expected}"
    assert json.loads(done["body"])["run"]["run_id"] == run_id

    secrets = [PASSWORD, HOOK_SECRET, GITHUB_SECRET]
    for path in paths.home().rglob("*"):  # the database, run logs, events, the registry
        if path.is_file() and path.stat().st_size < 50_000_000:
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"{secret!r} written to {path}"


def _wait_for_end(client: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        if report["status"] not in ("queued", "running"):
            return report
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish within {timeout}s: {report}")
