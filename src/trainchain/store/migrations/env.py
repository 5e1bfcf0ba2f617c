"""Alembic environment: run on the connection the Store hands over (no URL of its own)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from trainchain.store.migrations import VERSION_TABLE
from trainchain.store.models import Base


def _ours(name: Any, type_: str, parent_names: Any) -> bool:
    """Only trainchain's tables: Optuna's live in the same database with their own history."""
    return type_ != "table" or str(name).startswith("tc_")


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_name=_ours,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the `alembic` command line, for developers: -x url=sqlite:///path
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///trainchain.db")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
