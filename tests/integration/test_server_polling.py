"""Polling a real git repository with `git ls-remote`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from trainchain.errors import SourceError
from trainchain.server.app import create_app
from trainchain.server.polling import Poller, remote_head
from trainchain.server.testing import make_client
from trainchain.store import Project, Run, Store


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@e", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def commit(repo: Path, text: str) -> str:
    (repo / "train.py").write_text(text, encoding="utf-8")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", text)
    return git(repo, "rev-parse", "HEAD")


def test_poll_queues_a_run_when_the_head_moves(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = commit(repo, "print('v1')")
    store = Store(f"sqlite:///{tmp_path / 'poll.db'}")
    with store.session() as s:
        s.add(Project(name="repo", url=str(repo), branch="main", poll_seconds=30))
    app = create_app(store, start_worker=False)
    poller: Poller = app.state.poller
    with make_client(app):
        assert len(poller.poll_due(now=0)) == 1
        assert poller.poll_due(now=10) == []  # not due yet
        assert poller.poll_due(now=31) == []  # due, but the head did not move
        second = commit(repo, "print('v2')")
        assert len(poller.poll_due(now=62)) == 1
    with store.session() as s:
        rows = s.scalars(select(Run).order_by(Run.created_at))
        runs = [(r.ref, r.status, r.trigger) for r in rows]
        assert s.scalars(select(Project)).one().last_seen_commit == second
    assert runs == [(first, "superseded", "poll"), (second, "queued", "poll")]


def test_remote_head_of_a_missing_repository_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="ls-remote"):
        remote_head(str(tmp_path / "nowhere"), "main")
