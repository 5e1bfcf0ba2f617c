"""Queries about trials and their attempts and epochs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trainchain.store.base import StoreBase
from trainchain.store.models import Attempt, EpochMetric, Trial, utcnow


class TrialQueries(StoreBase):
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

    def add_trial(self, run_id: str, number: int, **fields: Any) -> Trial:
        """Record trial ``number`` of the run as started now; returns it as stored."""
        with self.session() as s:
            s.add(Trial(run_id=run_id, number=number, started_at=utcnow(), **fields))
        row = self.trial(run_id, number)
        assert row is not None
        return row

    def update_trial(self, trial_id: int, **fields: Any) -> None:
        with self.session() as s:
            trial = s.get(Trial, trial_id)
            assert trial is not None
            for key, value in fields.items():
                setattr(trial, key, value)

    # -- attempts ---------------------------------------------------------------------------
    def add_attempt(self, trial_id: int, number: int, process_id: str | None) -> None:
        """Record attempt ``number`` of the trial as running in ``process_id``."""
        with self.session() as s:
            s.add(Attempt(trial_id=trial_id, number=number, process_id=process_id))

    def record_epoch(
        self, trial_id: int, attempt: int, epoch: int, metrics: dict[str, float]
    ) -> None:
        """Store an epoch's metrics and move the attempt's first/last epoch."""
        with self.session() as s:
            s.add(EpochMetric(trial_id=trial_id, attempt=attempt, epoch=epoch, metrics=metrics))
            row = _attempt(s, trial_id, attempt)
            if row is not None:
                row.first_epoch = row.first_epoch or epoch
                row.last_epoch = epoch

    def record_recovered_epochs(
        self, trial_id: int, attempt: int, epochs: dict[int, dict[str, float]]
    ) -> list[int]:
        """Store the epochs of a finished fit that its attempt never reported (it was lost
        after training), under that attempt; epochs already stored are kept. Returns the
        epochs added."""
        with self.session() as s:
            have = set(s.scalars(select(EpochMetric.epoch).where(EpochMetric.trial_id == trial_id)))
            added = sorted(set(epochs) - have)
            for epoch in added:
                s.add(
                    EpochMetric(
                        trial_id=trial_id, attempt=attempt, epoch=epoch, metrics=epochs[epoch]
                    )
                )
            row = _attempt(s, trial_id, attempt)
            if row is not None and added:
                row.first_epoch = row.first_epoch or added[0]
                row.last_epoch = max(row.last_epoch or 0, added[-1])
            return added

    def end_attempt(
        self,
        trial_id: int,
        number: int,
        outcome: str,
        reason: str,
        resumed_from: int | None = None,
    ) -> None:
        """Record how attempt ``number`` of the trial ended (no-op if it was never recorded)."""
        with self.session() as s:
            row = _attempt(s, trial_id, number)
            if row is None:
                return
            row.outcome, row.reason, row.ended_at = outcome, reason, utcnow()
            if resumed_from:
                row.resumed_from = resumed_from


def _attempt(session: Session, trial_id: int, number: int) -> Attempt | None:
    return session.scalars(
        select(Attempt).where(Attempt.trial_id == trial_id, Attempt.number == number)
    ).first()
