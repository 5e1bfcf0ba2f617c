"""The named queries of the store facade, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.unit.test_store import store as any_store  # noqa: F401 - SQLite and PostgreSQL

from trainchain.errors import NotFoundError, StoreError
from trainchain.states import OutcomeKind, RunStatus
from trainchain.store import Run, Store

T0 = dt.datetime(2026, 1, 1)


def _run(store: Store, minute: int, status: str, **fields: object) -> str:
    with store.session() as s:
        run = Run(
            source="/src",
            name=str(fields.pop("name", "m")),
            status=status,
            created_at=T0 + dt.timedelta(minutes=minute),
            **fields,
        )
        s.add(run)
        s.flush()
        return run.id


def test_queue_queries(any_store: Store) -> None:  # noqa: F811
    store = any_store
    old, new = _run(store, 1, RunStatus.QUEUED), _run(store, 2, RunStatus.QUEUED)
    late = _run(store, 0, RunStatus.RUNNING, started_at=T0 + dt.timedelta(minutes=9))
    early = _run(store, 3, RunStatus.RUNNING, started_at=T0 + dt.timedelta(minutes=5))
    failed = _run(store, 4, RunStatus.FAILED)
    assert store.running_run_ids() == [early, late]
    assert store.queued_run_ids() == [old, new]
    assert store.next_queued_run(set()) == old
    assert store.next_queued_run({old}) == new
    assert store.next_queued_run({old, new}) is None
    assert store.run_counts_by_status() == {"queued": 2, "running": 2, "failed": 1}
    assert [r.id for r in store.runs(limit=2)] == [failed, early]  # newest first
    assert [r.id for r in store.runs(status=RunStatus.QUEUED)] == [new, old]


def test_supersede_and_run_for_commit(any_store: Store) -> None:  # noqa: F811
    store = any_store
    project = store.add_project("p", "https://example.com/p.git", branch="main")
    assert project is not None
    assert store.add_project("p", "https://example.com/other.git") is None
    kw = {"project_id": project.id, "branch": "main"}
    a = _run(store, 1, RunStatus.QUEUED, ref="a" * 40, **kw)
    claimed = _run(store, 2, RunStatus.QUEUED, ref="b" * 40, **kw)
    keep = _run(store, 3, RunStatus.QUEUED, ref="c" * 40, **kw)
    assert store.supersede_queued(project.id, "main", keep, {claimed}) == 1
    assert store.get_run(a).status == RunStatus.SUPERSEDED
    assert store.get_run(claimed).status == RunStatus.QUEUED
    assert store.run_for_commit(project.id, "main", "a" * 40) is None  # superseded
    assert store.run_for_commit(project.id, "main", "c" * 40) == keep
    assert store.run_for_commit(project.id, "dev", "c" * 40) is None


def test_projects_and_deliveries(any_store: Store) -> None:  # noqa: F811
    store = any_store
    watched = store.add_project("b", "https://example.com/b.git", poll_seconds=30.0)
    pushed = store.add_project("a", "https://example.com/a.git", secret_env="S")
    assert watched is not None and pushed is not None
    assert [p.name for p in store.projects()] == ["a", "b"]
    assert [p.name for p in store.polled_projects()] == ["b"]
    store.set_last_seen_commit(watched.id, "f" * 40)
    assert store.polled_projects()[0].last_seen_commit == "f" * 40
    fields = {"provider": "github", "event": "push", "project_id": pushed.id}
    store.record_delivery("d1", result="queued", **fields)
    store.record_delivery("d2", result="duplicate", **fields)
    with pytest.raises(StoreError):
        store.record_delivery("d1", result="queued", **fields)
    found = store.delivery("d1")
    assert found is not None and found.result == "queued" and store.delivery("d3") is None
    assert store.delivery_counts_by_result() == {"queued": 1, "duplicate": 1}
    run = _run(store, 1, RunStatus.FAILED, project_id=pushed.id)
    store.remove_project("a")
    assert [p.name for p in store.projects()] == ["b"]
    assert store.get_run(run).project_id is None  # history kept, detached
    assert (store.delivery("d1") or pytest.fail("delivery lost")).project_id is None
    with pytest.raises(NotFoundError, match="projects list"):
        store.remove_project("a")


def test_trial_attempt_and_epoch_rows(any_store: Store) -> None:  # noqa: F811
    store = any_store
    run = _run(store, 1, RunStatus.RUNNING)
    trial = store.add_trial(run, 1, params={"lr": 0.1}, optuna_number=0, info={"seed": 7})
    assert trial.started_at is not None and trial.params == {"lr": 0.1}
    store.add_attempt(trial.id, 1, "pid-1")
    store.record_epoch(trial.id, 1, 3, {"loss": 0.5})
    store.record_epoch(trial.id, 1, 4, {"loss": 0.4})
    store.end_attempt(trial.id, 1, OutcomeKind.FAILED, "exited with code 1", resumed_from=3)
    store.end_attempt(trial.id, 2, OutcomeKind.FAILED, "never started")  # no row: no-op
    stored = store.trial(run, 1)
    assert stored is not None
    (attempt,) = stored.attempts
    assert (attempt.first_epoch, attempt.last_epoch, attempt.resumed_from) == (3, 4, 3)
    assert attempt.outcome == OutcomeKind.FAILED and attempt.ended_at is not None
    assert [e.metrics for e in stored.epochs] == [{"loss": 0.5}, {"loss": 0.4}]


def test_models_and_the_runs_they_keep(any_store: Store) -> None:  # noqa: F811
    store = any_store
    made, other = _run(store, 1, RunStatus.SUCCEEDED), _run(store, 2, RunStatus.SUCCEEDED)
    fields = {"trial": 1, "metric_name": "acc", "goal": "maximize", "value": 0.9}
    store.add_model_version("zeta", lambda v: f"/r/zeta/{v}", run_id=made, **fields)
    store.add_model_version("alpha", lambda v: f"/r/alpha/{v}", run_id=other, **fields)
    store.set_alias("zeta", "champion", 1)
    assert store.model_names() == ["alpha", "zeta"]
    assert store.runs_with_aliased_models() == {made}
    assert [r.id for r in store.runs_of_model("m")] == [made, other]
