"""The durable queue: runs live in the database and survive a restart of the app."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from trainchain.pipeline import Pipeline
from trainchain.server.app import create_app
from trainchain.server.testing import make_client
from trainchain.store import Store


class RecordingExecutor:
    """A test double behind our own ``Executor`` interface: records, then finishes the run."""

    def __init__(self, store: Store, hold: float = 0.0) -> None:
        self.store, self.hold = store, hold
        self.calls: list[str] = []
        self.overlap = 0
        self._active = 0
        self._lock = threading.Lock()
        self.done = threading.Event()

    def execute(self, run_id: str) -> None:
        with self._lock:
            self.calls.append(run_id)
            self._active += 1
            self.overlap = max(self.overlap, self._active)
        time.sleep(self.hold)
        self.store.update_run(run_id, status="succeeded")
        with self._lock:
            self._active -= 1
        self.done.set()


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'queue.db'}")


def test_queued_run_survives_a_restart_and_runs_oldest_first(store: Store) -> None:
    pipeline = Pipeline(store)
    with make_client(create_app(store, start_worker=False)):
        first = pipeline.create_run("/src/a")
        second = pipeline.create_run("/src/b")
    assert store.get_run(first).status == "queued"  # nothing ran, nothing was lost
    executor = RecordingExecutor(store)
    with make_client(create_app(store, executor=executor)):
        wait_for(lambda: len(executor.calls) == 2)
    assert executor.calls == [first, second]
    assert store.get_run(second).status == "succeeded"


def test_running_run_of_a_dead_server_is_resumed(store: Store) -> None:
    pipeline = Pipeline(store)
    queued = pipeline.create_run("/src/queued")
    time.sleep(0.01)
    crashed = pipeline.create_run("/src/crashed")
    store.update_run(crashed, status="running")  # what a killed server leaves behind
    executor = RecordingExecutor(store)
    with make_client(create_app(store, executor=executor)):
        wait_for(lambda: len(executor.calls) == 2)
    assert executor.calls == [crashed, queued]  # resumed first, then the queue


def test_max_concurrent_runs_at_once(store: Store) -> None:
    pipeline = Pipeline(store)
    ids = [pipeline.create_run(f"/src/{n}") for n in range(4)]
    executor = RecordingExecutor(store, hold=0.3)
    with make_client(create_app(store, executor=executor, max_concurrent=2)) as client:
        wait_for(lambda: len(executor.calls) == 4)
        wait_for(lambda: all(store.get_run(i).status == "succeeded" for i in ids))
        assert 'trainchain_runs{status="succeeded"} 4' in client.get("/metrics").text
    assert executor.overlap == 2


def test_api_queued_run_wakes_the_worker(store: Store) -> None:
    executor = RecordingExecutor(store)
    with make_client(create_app(store, executor=executor)) as client:
        r = client.post("/api/runs", json={"source": "https://example.org/a/x.git", "ref": "main"})
        assert r.status_code == 202
        wait_for(executor.done.is_set, timeout=3)
    assert executor.calls == [r.json()["run_id"]]


def test_real_pipeline_executor_fails_fast_on_a_missing_source(
    store: Store, tmp_path: Path
) -> None:
    run_id = Pipeline(store).create_run(str(tmp_path / "does-not-exist"))
    with make_client(create_app(store)):
        wait_for(lambda: store.get_run(run_id).status == "failed", timeout=60)
    run = store.get_run(run_id)
    assert run.failed_stage == "fetch" and "does-not-exist" in (run.error or "")
