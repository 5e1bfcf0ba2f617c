"""Schema migrations (Alembic), run when a ``Store`` opens its database.

trainchain's tables (``tc_*``) share the database with Optuna's, which has its own Alembic
history in ``alembic_version``; ours is kept in ``tc_alembic_version`` and touches only
``tc_*`` tables. A database made before migrations existed (``create_all``) holds exactly the
baseline schema: it is stamped at the baseline, then upgraded like any other.

New revision (developers): ``alembic -c src/trainchain/store/migrations/alembic.ini
revision --autogenerate -m "what changed"`` against a database at head.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "tc_alembic_version"
BASELINE = "0001"


def _config(connection: Connection) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(HERE))
    current = script.get_current_head()
    assert current is not None
    return current


def current_revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; a no-op (one query) when it is there."""
    from alembic import command

    with engine.connect() as connection:
        if current_revision(connection) == head():
            return
    # Two processes opening a new database: one migrates, the other waits and finds it done.
    with _file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7316)"))  # any fixed key
        revision = current_revision(connection)
        if revision == head():
            return
        config = _config(connection)
        if revision is None and inspect(connection).has_table("tc_runs"):
            command.stamp(config, BASELINE)  # type: ignore[arg-type]
        command.upgrade(config, "head")  # type: ignore[arg-type]


@contextlib.contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """SQLite: an exclusive lock on ``<database>.migrate.lock`` (its DDL takes no lock early)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
