"""The store's contract, run against SQLite and PostgreSQL (real servers, no mocks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.services import require

from trainchain.errors import NotFoundError, StoreError
from trainchain.store import Run, Store, Trial

PG_URL = os.environ.get(
    "TRAINCHAIN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
)


def _postgres() -> Store:
    try:
        import psycopg  # noqa: F401

        store = Store(PG_URL)
    except (ImportError, StoreError) as exc:
        require(False, f"no PostgreSQL at {PG_URL} ({exc}); run scripts/start-postgres.sh")
        raise
    from trainchain.store.models import Base

    Base.metadata.drop_all(store.engine)
    Base.metadata.create_all(store.engine)
    return store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made = (
        Store(f"sqlite:///{tmp_path / 'db.sqlite'}") if request.param == "sqlite" else _postgres()
    )
    yield made
    made.engine.dispose()  # close pooled connections now, not in a finalizer


def test_runs_round_trip_and_prefix_lookup(store: Store) -> None:
    with store.session() as s:
        run = Run(source="/src", name="m", options={"target": 0.9})
        s.add(run)
        s.flush()
        run_id = run.id
    assert store.get_run(run_id).options == {"target": 0.9}
    assert store.get_run(run_id[:6]).id == run_id
    store.update_run(run_id, status="running", profile="keras")
    assert store.get_run(run_id).profile == "keras"
    with pytest.raises(NotFoundError, match="runs list"):
        store.get_run("nope")


def test_stages_trials_and_aliases(store: Store) -> None:
    with store.session() as s:
        run = Run(source="/src", name="m")
        s.add(run)
        s.flush()
        run_id = run.id
        s.add(Trial(run_id=run_id, number=0, params={"lr": 0.1}))
    store.set_stage(run_id, "fetch", "running")
    store.set_stage(run_id, "fetch", "succeeded", result={"commit": "abc"})
    row = store.stage(run_id, "fetch")
    assert (
        row is not None
        and row.state == "succeeded"
        and row.result == {"commit": "abc"}
        and row.ended_at
    )
    assert [t.number for t in store.trials(run_id)] == [0]
    store.set_alias("m", "champion", 1)
    store.set_alias("m", "champion", 2)
    assert store.aliases("m") == {"champion": 2}


def test_a_failed_write_raises_and_keeps_nothing(store: Store) -> None:
    with store.session() as s:
        run = Run(source="/src", name="m")
        s.add(run)
        s.flush()
        run_id = run.id
    with pytest.raises(StoreError):
        with store.session() as s:
            s.add(Trial(run_id=run_id, number=0))
            s.add(Trial(run_id=run_id, number=0))  # violates (run_id, number) uniqueness
    assert store.trials(run_id) == []


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="TRAINCHAIN_DB_URL"):
        Store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'db'}")
