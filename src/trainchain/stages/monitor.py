"""job6 — monitor: account for every attempt the supervisor ran, and leave nothing running.

The live supervision (restart with backoff from the checkpoint, crash-loop and OOM handling)
happens inside ``TrialRunner`` while train and tune run; this stage closes the run's books:
it stops any attempt still marked running (an orphan of a dead controller) and reports the
restarts, recoveries and give-ups per trial.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from trainchain.runtimes.base import Runtime
from trainchain.stages.context import StageContext, StageResult
from trainchain.states import OutcomeKind, TrialState
from trainchain.store import Store


@dataclass
class MonitorResult:
    attempts: int = 0
    restarts: int = 0
    recovered_trials: list[int] = field(default_factory=list)  # restarted and then completed
    gave_up: dict[int, str] = field(default_factory=dict)  # trial -> reason
    orphans_stopped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(ctx: StageContext) -> StageResult:
    runtime = ctx.runtime if ctx.run.environment else None
    return StageResult(monitor(ctx.store, ctx.run.id, runtime).to_dict())


def monitor(store: Store, run_id: str, runtime: Runtime | None) -> MonitorResult:
    result = MonitorResult()
    for trial in store.trials(run_id):
        result.attempts += len(trial.attempts)
        result.restarts += max(0, len(trial.attempts) - 1)
        for attempt in trial.attempts:
            if attempt.outcome == OutcomeKind.RUNNING:
                stopped = bool(
                    runtime and attempt.process_id and runtime.reap(attempt.process_id, run_id)
                )
                result.orphans_stopped += int(stopped)
                reason = "left running; stopped by monitor"
                store.end_attempt(trial.id, attempt.number, OutcomeKind.LOST.value, reason)
        if len(trial.attempts) > 1 and trial.state == TrialState.COMPLETE:
            result.recovered_trials.append(trial.number)
        if trial.state == TrialState.FAILED and trial.error:
            result.gave_up[trial.number] = trial.error.splitlines()[0]
    return result
