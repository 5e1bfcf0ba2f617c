"""Writing an attempt's progress as it comes: each epoch (and each epoch an earlier attempt
finished but never reported) to the store and to ``progress``, and the attempt's end. Stored
before the runner goes on, so a controller that dies resumes from what was recorded."""

from __future__ import annotations

from typing import Any

from trainchain.runtimes.base import Outcome
from trainchain.states import OutcomeKind
from trainchain.store import Store, Trial
from trainchain.trials import metrics as M
from trainchain.trials.setup import EpochHook, Progress

_SUCCESS = (OutcomeKind.SUCCEEDED, OutcomeKind.SUCCEEDED_WITH_ERROR)


class AttemptRecorder:
    def __init__(self, store: Store, progress: Progress) -> None:
        self.store, self.progress = store, progress

    def fit(self, number: int, ev: dict[str, Any]) -> None:
        """Keras says how many epochs this fit will run (the progress display's total)."""
        self.progress(
            {
                "kind": "fit",
                "trial": number,
                "epochs": ev.get("epochs"),
                "initial_epoch": ev.get("initial_epoch"),
            }
        )

    def epoch(
        self, trial: Trial, attempt: int, ev: dict[str, Any], hook: EpochHook | None
    ) -> bool | str | None:
        """Store one epoch's finite metrics; ``hook`` sees them all (NaN too) and answers
        whether to prune."""
        epoch = int(ev.get("epoch", 0))
        raw = {
            k: float(v)
            for k, v in (ev.get("metrics") or {}).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        values = {k: v for k, v in raw.items() if M._is_number(v)}
        self.store.record_epoch(trial.id, attempt, epoch, values)
        self.progress({"kind": "epoch", "trial": trial.number, "epoch": epoch, "metrics": values})
        return hook(epoch, raw) if hook else None

    def recovered(self, trial: Trial, attempt_no: int, ev: dict[str, Any]) -> None:
        """Epochs of a fit an earlier attempt finished but never reported (lost with its node):
        replayed by the agent from the fit's completion record."""
        by = ev.get("attempt")
        trainer = by if isinstance(by, int) and 0 < by < attempt_no else attempt_no - 1
        epochs = {
            int(e["epoch"]): {
                k: float(v)
                for k, v in (e.get("metrics") or {}).items()
                if isinstance(v, int | float) and M._is_number(v)
            }
            for e in ev.get("epochs") or []
            if isinstance(e, dict) and isinstance(e.get("epoch"), int)
        }
        added = self.store.record_recovered_epochs(trial.id, trainer, epochs) if trainer else []
        for epoch in added:
            self.progress(
                {"kind": "epoch", "trial": trial.number, "epoch": epoch, "metrics": epochs[epoch]}
            )

    def end(
        self,
        trial_id: int,
        number: int,
        outcome: Outcome,
        events: list[dict[str, Any]],
        reason: str,
    ) -> None:
        """The attempt's end: its outcome, why (the policy's decision unless it succeeded), and
        the epoch it resumed from."""
        resumed = next(
            (
                ev.get("initial_epoch")
                for ev in events
                if ev.get("type") == "fit" and ev.get("initial_epoch")
            ),
            None,
        )
        self.store.end_attempt(
            trial_id,
            number,
            outcome.kind.value,
            outcome.reason if outcome.kind in _SUCCESS else reason,
            int(resumed) if resumed else None,
        )
