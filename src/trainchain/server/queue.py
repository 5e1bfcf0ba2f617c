"""The durable run queue: the database is the queue, worker threads only take from it.

A worker claims the oldest ``queued`` run and executes it. On start-up, runs left ``running``
by a server that died are executed again first (``Pipeline.execute`` resumes at their first
unfinished stage); queued runs simply wait their turn. Nothing is held only in memory except
the set of runs this process is executing, so a restart loses nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from trainchain.store import Project, Store

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs one run to its end (blocking). Called from worker threads, one call per run."""

    def execute(self, run_id: str) -> None: ...


class PipelineExecutor:
    """The real executor: the whole chain through ``Pipeline.execute``."""

    def __init__(self, store: Store) -> None:
        from trainchain.retention import keep_runs_setting

        self.store = store
        self.keep_runs = keep_runs_setting()  # a bad TRAINCHAIN_KEEP_RUNS stops the server now

    def execute(self, run_id: str) -> None:
        from trainchain.gc import auto_collect
        from trainchain.pipeline import Pipeline
        from trainchain.retention import auto_prune

        outcome = Pipeline(self.store).execute(run_id)
        log.info("run %s ended: %s", run_id, outcome.report.status)
        if self.keep_runs is not None:
            auto_prune(self.store)  # the disk bound: old envs and images go after each run
            auto_collect(self.store)  # and old runs' work trees and logs


def settings(project: Project) -> dict[str, object]:
    """The operator's settings of the project's runs."""
    return {k: v for k, v in (project.options or {}).items() if k != "insecure_unsigned"}


class RunQueue:
    """Worker threads over the runs table. ``lock`` also guards supersede (see webhooks)."""

    def __init__(
        self, store: Store, executor: Executor, max_concurrent: int = 1, poll: float = 1.0
    ) -> None:
        if max_concurrent < 1:
            from trainchain.errors import UsageError

            raise UsageError(f"--workers-runs {max_concurrent}: give 1 or more")
        self.store, self.executor = store, executor
        self.max_concurrent, self.poll = max_concurrent, poll
        self.lock = threading.RLock()  # webhooks take it around whole deliveries
        self.claimed: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._resume: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._resume = self.store.running_run_ids()
        if self._resume:
            log.warning("resuming %d run(s) left running: %s", len(self._resume), self._resume)
        self._stop.clear()
        for n in range(self.max_concurrent):
            thread = threading.Thread(target=self._loop, name=f"trainchain-run-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking runs. A run still executing stays ``running`` and resumes next start."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def notify(self) -> None:
        """A run was queued: wake an idle worker now instead of at the next poll."""
        self._wake.set()

    @property
    def active(self) -> int:
        return len(self.claimed)

    def queued(self) -> int:
        return len([i for i in self.store.queued_run_ids() if i not in self.claimed])

    def submit(self, project: Project, branch: str, commit: str, trigger: str) -> tuple[str, int]:
        """Queue a run of ``project`` at ``commit``; older queued runs of the branch are
        superseded. Returns the run id and how many were superseded."""
        from trainchain.config import SERVER_DEFAULTS
        from trainchain.pipeline import Pipeline

        # one lock for create + supersede + claim, so the newest commit of a branch always wins
        with self.lock:
            run_id = Pipeline(self.store).create_run(
                project.url,
                ref=commit,
                branch=branch,
                trigger=trigger,
                options={**SERVER_DEFAULTS, **settings(project)},
                project_id=project.id,
            )
            superseded = self.store.supersede_queued(project.id, branch, run_id, self.claimed)
        self.notify()
        return run_id, superseded

    # -- work --------------------------------------------------------------------------------
    def claim(self) -> str | None:
        """The next run to execute: a resumed one, else the oldest queued one not claimed."""
        with self.lock:
            while self._resume:
                run_id = self._resume.pop(0)
                if run_id not in self.claimed:
                    self.claimed.add(run_id)
                    return run_id
            found = self.store.next_queued_run(self.claimed)
            if found is not None:
                self.claimed.add(found)
            return found

    def _loop(self) -> None:
        while not self._stop.is_set():
            run_id = self.claim()
            if run_id is None:
                self._wake.wait(self.poll)
                self._wake.clear()
                continue
            try:
                self.executor.execute(run_id)
            except Exception:  # the supervisor: log it, keep serving the other runs
                log.exception("run %s ended with an internal error", run_id)
            finally:
                with self.lock:
                    self.claimed.discard(run_id)
