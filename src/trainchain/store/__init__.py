"""The state store: one database (SQLite in WAL mode by default, or TRAINCHAIN_DB_URL).

Every write commits before the caller moves on, so a killed controller loses at most the
step it was in; a failed write raises ``StoreError`` (nothing is lost silently).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from trainchain import paths
from trainchain.errors import NotFoundError, StoreError
from trainchain.extras import require
from trainchain.states import LIVE_RUN_STATUSES, StageState
from trainchain.store import migrations
from trainchain.store.models import (
    Attempt,
    EpochMetric,
    ModelAlias,
    ModelVersion,
    Notification,
    Project,
    Run,
    StageRun,
    Trial,
    WebhookDelivery,
    utcnow,
)

__all__ = [
    "Attempt",
    "EpochMetric",
    "ModelAlias",
    "ModelVersion",
    "Notification",
    "Project",
    "Run",
    "StageRun",
    "Store",
    "Trial",
    "WebhookDelivery",
    "utcnow",
]
log = logging.getLogger(__name__)


VERSION_ATTEMPTS = 50  # concurrent promotions of one model before giving up


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _private_sqlite_file(url: str) -> None:
    """A SQLite database file is created 0600 (it holds runs, projects and deliveries)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    if not path.exists() and path.parent.is_dir():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


class Store:
    """Database access. Thread-safe: each ``session()`` is its own unit of work."""

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
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(f"database write failed on {self._safe_url()}: {exc}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # -- runs -------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                matches = s.scalars(select(Run).where(Run.id.startswith(run_id))).all()
                if len(matches) == 1:
                    return matches[0]
                raise NotFoundError(
                    f"no run {run_id!r} in {self._safe_url()}; "
                    "`trainchain runs list` shows the runs"
                )
            return run

    def update_run(self, run_id: str, **fields: Any) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise NotFoundError(f"no run {run_id!r}")
            for key, value in fields.items():
                setattr(run, key, value)

    def stage(self, run_id: str, stage: str) -> StageRun | None:
        with self.session() as s:
            return s.scalars(
                select(StageRun).where(StageRun.run_id == run_id, StageRun.stage == stage)
            ).first()

    def set_stage(self, run_id: str, stage: str, state: str, **fields: Any) -> None:
        with self.session() as s:
            row = s.scalars(
                select(StageRun).where(StageRun.run_id == run_id, StageRun.stage == stage)
            ).first()
            if row is None:
                row = StageRun(run_id=run_id, stage=stage)
                s.add(row)
            row.state = state
            if state == StageState.RUNNING:
                row.started_at, row.ended_at, row.error = utcnow(), None, None
            elif StageState(state).is_final:
                row.ended_at = utcnow()
            for key, value in fields.items():
                setattr(row, key, value)

    # -- trials -----------------------------------------------------------------------------
    def trial(self, run_id: str, number: int) -> Trial | None:
        with self.session() as s:
            return s.scalars(
                select(Trial).where(Trial.run_id == run_id, Trial.number == number)
            ).first()

    def trials(self, run_id: str) -> list[Trial]:
        with self.session() as s:
            return list(
                s.scalars(select(Trial).where(Trial.run_id == run_id).order_by(Trial.number))
            )

    def update_trial(self, trial_id: int, **fields: Any) -> None:
        with self.session() as s:
            trial = s.get(Trial, trial_id)
            assert trial is not None
            for key, value in fields.items():
                setattr(trial, key, value)

    # -- models -----------------------------------------------------------------------------
    def model_versions(self, name: str) -> list[ModelVersion]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(ModelVersion)
                    .where(ModelVersion.name == name)
                    .order_by(ModelVersion.version)
                )
            )

    def add_model_version(self, name: str, path: Callable[[int], str], **fields: Any) -> int:
        """Record the next version of model ``name`` and return its number.

        The (name, version) unique constraint is the lock: a concurrent promotion that took the
        same number makes this one try the next, so two runs never share a version.
        """
        for _ in range(VERSION_ATTEMPTS):
            session = self._sessions()
            try:
                last = session.scalar(
                    select(func.max(ModelVersion.version)).where(ModelVersion.name == name)
                )
                version = (last or 0) + 1
                session.add(ModelVersion(name=name, version=version, path=path(version), **fields))
                session.commit()
                return version
            except (IntegrityError, OperationalError) as exc:
                session.rollback()  # taken by another writer (or SQLite's stale snapshot): retry
                if isinstance(exc, OperationalError) and "locked" not in str(exc):
                    raise StoreError(f"database write failed on {self._safe_url()}: {exc}") from exc
            except SQLAlchemyError as exc:
                session.rollback()
                raise StoreError(f"database write failed on {self._safe_url()}: {exc}") from exc
            finally:
                session.close()
        raise StoreError(
            f"could not allocate a version of model {name!r} after {VERSION_ATTEMPTS} tries "
            f"on {self._safe_url()}: too many concurrent promotions; run it again"
        )

    def aliases(self, name: str) -> dict[str, int]:
        with self.session() as s:
            rows = s.scalars(select(ModelAlias).where(ModelAlias.name == name))
            return {row.alias: row.version for row in rows}

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version`` whatever it pointed at (a move by hand)."""
        for _ in range(VERSION_ATTEMPTS):
            if self.swap_alias(name, alias, self.aliases(name).get(alias), version):
                return
        raise StoreError(f"could not move {name}@{alias}: it keeps changing; run it again")

    def swap_alias(self, name: str, alias: str, expected: int | None, version: int) -> bool:
        """Compare-and-set: point ``alias`` at ``version`` only if it still points at
        ``expected`` (``None``: does not exist yet). False when another writer moved it first."""
        session = self._sessions()
        try:
            if expected is None:
                session.add(ModelAlias(name=name, alias=alias, version=version))
                session.commit()
                return True
            moved = session.execute(
                update(ModelAlias)
                .where(
                    ModelAlias.name == name,
                    ModelAlias.alias == alias,
                    ModelAlias.version == expected,
                )
                .values(version=version)
            )
            session.commit()
            return bool(getattr(moved, "rowcount", 0) == 1)
        except IntegrityError:
            session.rollback()
            return False
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(f"database write failed on {self._safe_url()}: {exc}") from exc
        finally:
            session.close()

    # -- retention --------------------------------------------------------------------------
    def environments_in_use(self, keep_runs: int) -> list[dict[str, Any]]:
        """The recorded ``environment`` of the newest ``keep_runs`` runs, of every run still
        queued or running, and of every run whose model is a champion (what pruning keeps)."""
        with self.session() as s:
            newest = select(Run.id).order_by(Run.created_at.desc()).limit(max(0, keep_runs))
            champions = (
                select(ModelVersion.run_id)
                .join(
                    ModelAlias,
                    (ModelAlias.name == ModelVersion.name)
                    & (ModelAlias.version == ModelVersion.version),
                )
                .where(ModelAlias.alias == "champion")
            )
            rows = s.scalars(
                select(Run).where(
                    Run.id.in_(newest) | Run.id.in_(champions) | Run.status.in_(LIVE_RUN_STATUSES)
                )
            )
            return [dict(run.environment) for run in rows if run.environment]


def _with_driver(url: str) -> str:
    """A bare ``postgresql://`` URL uses the driver the ``postgres`` extra installs (psycopg 3);
    SQLAlchemy's own default for it is psycopg2, which trainchain does not ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
