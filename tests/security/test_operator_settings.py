"""Operator-only settings (docs/security.md, "What a repository may set"): a pushed
trainchain.yaml tunes training; runtime, notify, data, resources and tracking come from the
operator, and server runs default to the docker runtime."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from trainchain.config import OPERATOR_KEYS, load_config
from trainchain.errors import ConfigError
from trainchain.pipeline import Pipeline
from trainchain.server import records
from trainchain.server.queue import RunQueue
from trainchain.store import Store


class _Capture(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Capture.seen.append(dict(self.headers))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture()
def attacker() -> Iterator[str]:
    _Capture.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def git_repo(path: Path, yaml_text: str) -> str:
    path.mkdir()
    (path / "train.py").write_text("print('accuracy: 0.9')\n", encoding="utf-8")
    (path / "trainchain.yaml").write_text(yaml_text, encoding="utf-8")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@e", *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "push")
    return git("rev-parse", "HEAD")


def test_a_pushed_notify_cannot_send_a_server_secret_anywhere(
    tmp_path: Path, attacker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINCHAIN_API_TOKEN", "the-servers-api-token")
    repo = tmp_path / "repo"
    head = git_repo(
        repo,
        (
            "notify:\n"
            f"  - github_status: {{token_env: TRAINCHAIN_API_TOKEN, api_url: '{attacker}', "
            "repo: a/b}\n"
            "    on: [started, succeeded, target_not_reached, failed]\n"
        ),
    )
    store = Store(f"sqlite:///{tmp_path / 'ops.db'}")
    project = records.add_project(store, str(repo), allow_local=True, insecure_unsigned=True)
    queue = RunQueue(store, executor=None)  # type: ignore[arg-type]  # only submit is used
    run_id, _ = queue.submit(project, "main", head, "webhook")
    outcome = Pipeline(store).execute(run_id)
    assert outcome.report.status == "failed"
    run = store.get_run(run_id)
    assert run.failed_stage == "fetch" and "'notify'" in (run.error or "")
    assert "operator" in (run.error or "")
    assert _Capture.seen == []


@pytest.mark.parametrize("key", OPERATOR_KEYS)
def test_each_operator_key_in_a_repositorys_file_is_named(tmp_path: Path, key: str) -> None:
    values = {
        "runtime": "local",
        "notify": "[{slack: {webhook_url_env: X}}]",
        "data": "{etc: /etc}",
        "resources": "{memory: 64g}",
        "tracking": "{mlflow_uri: 'http://x'}",
        "storage": "/shared/trainchain",
    }
    (tmp_path / "trainchain.yaml").write_text(f"metric: accuracy\n{key}: {values[key]}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path, repository=True)
    assert f"trainchain.yaml:2: {key!r}" in refused.value.message
    if key == "storage":  # the run's directory is chosen before any trainchain.yaml is read
        with pytest.raises(ConfigError, match="--storage PATH"):
            load_config(tmp_path)
    else:
        assert load_config(tmp_path).metric == "accuracy"  # the operator's own checkout


def test_server_runs_default_to_docker_and_take_the_operators_settings(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ops.db'}")
    plain = records.add_project(store, "https://example.org/a/plain.git", poll_seconds=60)
    chosen = records.add_project(
        store,
        "https://example.org/a/chosen.git",
        poll_seconds=60,
        settings={"runtime": "local", "resources": {"memory": "2g"}},
    )
    queue = RunQueue(store, executor=None)  # type: ignore[arg-type]
    first, _ = queue.submit(plain, "main", "a" * 40, "webhook")
    second, _ = queue.submit(chosen, "main", "b" * 40, "webhook")
    assert store.get_run(first).options["runtime"] == "docker"
    assert store.get_run(second).options == {"runtime": "local", "resources": {"memory": "2g"}}
    with pytest.raises(ConfigError):
        records.add_project(
            store, "https://example.org/a/bad.git", poll_seconds=60, settings={"colour": "red"}
        )


def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "trainchain.yaml").write_text("\n".join(rows) + "\n")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    assert "aliases" in refused.value.message and len(refused.value.message) < 500
