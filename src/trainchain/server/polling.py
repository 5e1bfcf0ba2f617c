"""Polling for repositories that cannot send webhooks: ``git ls-remote`` every interval.

A project with ``poll_seconds`` is checked that often; when the branch head differs from
``Project.last_seen_commit`` (including the first look) a run is queued, like a push.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time

from trainchain.errors import SourceError, UsageError
from trainchain.server.queue import RunQueue
from trainchain.store import Project, Store
from trainchain.urls import check_source, git_environ, redact

log = logging.getLogger(__name__)


def remote_head(url: str, branch: str, timeout: float = 60) -> str | None:
    """The commit of ``refs/heads/<branch>`` at ``url``, or None when the branch is absent."""
    shown = redact(url)
    try:
        check_source(url, allow_local=True)  # stored by `projects add`; checked again here
        proc = subprocess.run(  # `--`: the URL is never read as an option
            ["git", "ls-remote", "--", url, f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=git_environ(),
        )
    except UsageError as exc:
        raise SourceError(exc.message) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(
            redact(f"git ls-remote {shown} failed: {exc}; check git and the URL")
        ) from exc
    if proc.returncode != 0:
        raise SourceError(
            redact(
                f"git ls-remote {shown} failed: {proc.stderr.strip()[-300:]}; "
                "check the URL and access"
            )
        )
    for line in proc.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


class Poller:
    def __init__(self, store: Store, queue: RunQueue, tick: float = 1.0) -> None:
        self.store, self.queue, self.tick = store, queue, tick
        self._due: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="trainchain-poll", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def poll_project(self, project: Project) -> str | None:
        """Check one project now; returns the id of the run queued, if the head moved."""
        head = remote_head(project.url, project.branch)
        if head is None or head == project.last_seen_commit:
            return None
        with self.queue.lock:
            run_id, _ = self.queue.submit(project, project.branch, head, "poll")
            self.store.set_last_seen_commit(project.id, head)
        log.info("poll %s: %s moved to %s -> run %s", project.name, project.branch, head, run_id)
        return run_id

    def poll_due(self, now: float | None = None) -> list[str]:
        now = time.monotonic() if now is None else now
        started = []
        for project in self.store.polled_projects():
            if now < self._due.get(project.id, 0.0):
                continue
            self._due[project.id] = now + float(project.poll_seconds or 60)
            try:
                run_id = self.poll_project(project)
            except SourceError as exc:  # one bad remote must not stop polling the others
                log.warning("poll %s: %s", project.name, exc.message)
                continue
            if run_id:
                started.append(run_id)
        return started

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            self.poll_due()
