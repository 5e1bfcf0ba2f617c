"""The engine and the unit of work every store query runs in."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from trainchain import paths
from trainchain.errors import StoreError
from trainchain.extras import require
from trainchain.store import migrations


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _private_sqlite_file(url: str) -> None:
    """A SQLite database file is created 0600 (it holds runs, projects and deliveries)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _with_driver(url: str) -> str:
    """A bare ``postgresql://`` URL uses the driver the ``postgres`` extra installs (psycopg 3);
    SQLAlchemy's own default for it is psycopg2, which trainchain does not ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class StoreBase:
    """Opens (and migrates) the database. Thread-safe: each ``session()`` is its own unit of
    work. Only the query mixins of ``trainchain.store`` open sessions; everything else calls
    their named methods."""

    def __init__(self, url: str | None = None) -> None:
        self.url = _with_driver(url or paths.db_url())
        _private_sqlite_file(self.url)
        if self.url.startswith("postgresql"):
            require("postgres", f"the PostgreSQL database {self._safe_url()}")
        try:
            self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            migrations.upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot open the database {self._safe_url()}: {exc.__class__.__name__}: "
                f"{exc.orig if hasattr(exc, 'orig') else exc}; check TRAINCHAIN_DB_URL"
            ) from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def _write_error(self, exc: Exception) -> StoreError:
        return StoreError(f"database write failed on {self._safe_url()}: {exc}")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise self._write_error(exc) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
