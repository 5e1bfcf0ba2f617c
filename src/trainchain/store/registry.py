"""Queries about the model registry: versions (numbered by the database) and aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from trainchain.errors import StoreError
from trainchain.store.base import StoreBase
from trainchain.store.models import ModelAlias, ModelVersion

VERSION_ATTEMPTS = 50  # concurrent promotions of one model before giving up


class RegistryQueries(StoreBase):
    def model_names(self) -> list[str]:
        """Every model with at least one version, sorted."""
        with self.session() as s:
            return sorted(set(s.scalars(select(ModelVersion.name))))

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
                    raise self._write_error(exc) from exc
            except SQLAlchemyError as exc:
                session.rollback()
                raise self._write_error(exc) from exc
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
            raise self._write_error(exc) from exc
        finally:
            session.close()
