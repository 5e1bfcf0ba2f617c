"""Schema migrations: an existing database upgrades, and the models never drift from them."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from tests.services import require
from tests.unit.test_store import PG_URL

from trainchain.store import Store, migrations
from trainchain.store.models import Base

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database (a database of its own on the PostgreSQL server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    try:
        import psycopg  # noqa: F401

        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"tc_mig_{uuid.uuid4().hex[:10]}"
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - no server: skip locally, fail in CI
        require(False, f"no PostgreSQL at {PG_URL} ({exc}); run scripts/start-postgres.sh")
        raise
    yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def test_the_migrations_build_exactly_the_models_schema(empty_url: str) -> None:
    """A model change without its migration fails here (alembic revision --autogenerate)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = Store(empty_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "version_table": migrations.VERSION_TABLE,
                    "include_name": lambda name, kind, _: kind != "table" or name.startswith("tc_"),
                    "compare_type": True,
                },
            )
            assert migrations.current_revision(conn) == migrations.head()
            assert compare_metadata(context, Base.metadata) == []
    finally:
        store.engine.dispose()


def test_a_database_made_by_release_0_1_0_is_upgraded_and_keeps_its_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as con:
        con.executescript((FIXTURES / "release-0.1.0.sqlite.sql").read_text())
    con.close()
    store = Store(f"sqlite:///{path}")
    try:
        run = store.get_run("a1b2c3d4e5f6")
        assert (run.name, run.status) == ("digits-cnn", "succeeded")
        assert [v.value for v in store.model_versions("digits-cnn")] == [0.93]
        assert store.aliases("digits-cnn") == {"champion": 1}
        with store.engine.connect() as conn:
            assert migrations.current_revision(conn) == migrations.head()
    finally:
        store.engine.dispose()


def test_a_postgres_database_at_the_baseline_is_upgraded(empty_url: str) -> None:
    from alembic import command

    engine = create_engine(empty_url)
    with engine.begin() as conn:
        command.upgrade(migrations._config(conn), migrations.BASELINE)  # type: ignore[arg-type]
        conn.execute(
            text(
                'INSERT INTO tc_runs (id, name, source, "trigger", status, options, config, '
                "detection, environment, became_champion, created_at) VALUES ('r1', 'm', '/src', "
                "'cli', 'queued', '{}', '{}', '{}', '{}', false, CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    store = Store(empty_url)
    try:
        assert store.get_run("r1").name == "m"
        with store.engine.connect() as conn:
            assert migrations.current_revision(conn) == migrations.head()
    finally:
        store.engine.dispose()


def test_two_processes_opening_a_new_database_at_once_both_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        barrier.wait()
        try:
            Store(url).engine.dispose()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
