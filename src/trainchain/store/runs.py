"""Queries about runs: one run, run lists, the queue, stages, retention, notifications."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from trainchain.errors import NotFoundError
from trainchain.states import LIVE_RUN_STATUSES, RunStatus, StageState
from trainchain.store.base import StoreBase
from trainchain.store.models import ModelAlias, ModelVersion, Notification, Run, StageRun, utcnow


class RunQueries(StoreBase):
    def get_run(self, run_id: str) -> Run:
        """The run ``run_id``, or the only run whose id starts with it."""
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

    def runs(self, limit: int | None = None, status: str | None = None) -> list[Run]:
        """The newest runs first (all of them without ``limit``), of one status if given."""
        with self.session() as s:
            query = select(Run).order_by(Run.created_at.desc(), Run.id)
            if status:
                query = query.where(Run.status == status)
            if limit is not None:
                query = query.limit(limit)
            return list(s.scalars(query))

    def runs_of_model(self, name: str) -> list[Run]:
        """Every run that trains model ``name``, oldest first."""
        with self.session() as s:
            return list(s.scalars(select(Run).where(Run.name == name).order_by(Run.created_at)))

    def run_counts_by_status(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(Run.status, func.count()).group_by(Run.status)).all()
        return {str(status): int(n) for status, n in rows}

    def add_run(self, **fields: Any) -> str:
        """Record a new run and return its id."""
        with self.session() as s:
            run = Run(**fields)
            s.add(run)
            s.flush()
            return run.id

    def add_notifications(self, run_id: str, sent: list[dict[str, Any]]) -> None:
        """What each notification channel answered (``channel, event, ok, attempts, error,
        detail``; never a secret)."""
        with self.session() as s:
            s.add_all(Notification(run_id=run_id, **fields) for fields in sent)

    # -- the queue --------------------------------------------------------------------------
    def running_run_ids(self) -> list[str]:
        """Runs left ``running`` (by a server that died), in the order they started."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(Run.id)
                    .where(Run.status == RunStatus.RUNNING)
                    .order_by(Run.started_at, Run.created_at)
                )
            )

    def queued_run_ids(self) -> list[str]:
        """Queued runs, oldest first."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(Run.id)
                    .where(Run.status == RunStatus.QUEUED)
                    .order_by(Run.created_at, Run.id)
                )
            )

    def next_queued_run(self, excluding: set[str]) -> str | None:
        """The oldest queued run not in ``excluding`` (the runs workers already claimed)."""
        with self.session() as s:
            query = (
                select(Run.id)
                .where(Run.status == RunStatus.QUEUED)
                .order_by(Run.created_at, Run.id)
            )
            if excluding:
                query = query.where(Run.id.not_in(excluding))
            return s.scalars(query.limit(1)).first()

    def supersede_queued(self, project_id: int, branch: str, keep: str, claimed: set[str]) -> int:
        """Mark queued runs of this project+branch, other than ``keep`` and claimed ones,
        superseded; returns how many."""
        with self.session() as s:
            result = s.execute(
                update(Run)
                .where(
                    Run.project_id == project_id,
                    Run.branch == branch,
                    Run.status == RunStatus.QUEUED,
                    Run.id != keep,
                    Run.id.not_in(claimed or {""}),
                )
                .values(status=RunStatus.SUPERSEDED.value, error=f"superseded by run {keep}")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def run_for_commit(self, project_id: int, branch: str, commit: str) -> str | None:
        """A run of this project, branch and commit in any status but superseded."""
        with self.session() as s:
            return s.scalars(
                select(Run.id).where(
                    Run.project_id == project_id,
                    Run.branch == branch,
                    Run.ref == commit,
                    Run.status != RunStatus.SUPERSEDED,
                )
            ).first()

    # -- stages -----------------------------------------------------------------------------
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

    # -- notifications ----------------------------------------------------------------------
    def notifications(self, run_id: str) -> list[Notification]:
        """What was sent (or failed to be) about run ``run_id``, in order."""
        with self.session() as s:
            return list(
                s.scalars(
                    select(Notification)
                    .where(Notification.run_id == run_id)
                    .order_by(Notification.id)
                )
            )

    # -- retention --------------------------------------------------------------------------
    def runs_with_aliased_models(self) -> set[str]:
        """Ids of the runs that made a model version some alias (champion) points at."""
        same = (ModelAlias.name == ModelVersion.name) & (ModelAlias.version == ModelVersion.version)
        with self.session() as s:
            rows = s.scalars(select(ModelVersion.run_id).join(ModelAlias, same)).all()
        return {str(run_id) for run_id in rows}

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
