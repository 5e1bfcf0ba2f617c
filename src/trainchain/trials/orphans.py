"""Attempts a controller that died left 'running': when a new controller resumes the trial,
one still training on the cluster is followed again, one that finished well keeps its result,
and the rest are stopped and marked lost (so the restart policy counts them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainchain.agent.events import read_events
from trainchain.runtimes.base import Outcome, Runtime, TrialProcess, TrialSpec
from trainchain.states import OutcomeKind
from trainchain.store import Attempt, Trial
from trainchain.trials import attempt_events as E
from trainchain.trials.recording import AttemptRecorder
from trainchain.trials.setup import Progress, TrialSetup
from trainchain.trials.workspace import trial_dirs


def reattach(
    trial: Trial,
    runtime: Runtime,
    spec_of: Callable[[int], TrialSpec],
    progress: Progress,
) -> tuple[Attempt, TrialProcess] | None:
    """The last attempt, left running by a controller that died, if the runtime can follow
    it again (a detached Ray actor still training on the cluster). ``spec_of`` gives an
    attempt number's spec."""
    running = [a for a in trial.attempts if a.outcome == OutcomeKind.RUNNING and a.process_id]
    if not running:
        return None
    last = max(running, key=lambda a: a.number)
    process = runtime.reattach(last.process_id or "", spec_of(last.number))
    if process is None:
        return None
    progress(
        {
            "kind": "restart",
            "trial": trial.number,
            "reason": f"attempt {last.number} is still running ({process.id}): following it",
        }
    )
    return last, process


def close_orphans(
    trial: Trial,
    runtime: Runtime,
    setup: TrialSetup,
    recorder: AttemptRecorder,
    skip: int | None = None,
) -> tuple[int, list[dict[str, Any]]] | None:
    """An attempt still 'running' belongs to a controller that died.

    If its events show it finished well, it is kept (number and events are returned) and
    its unrecorded epochs are stored; otherwise its process is stopped and it is marked lost.
    Attempt ``skip`` was re-attached and is followed instead.
    """
    for attempt in trial.attempts:
        if attempt.outcome != OutcomeKind.RUNNING or attempt.number == skip:
            continue
        stopped = bool(attempt.process_id) and runtime.reap(attempt.process_id or "", setup.run_id)
        path = trial_dirs(setup.run_dir, trial.number).events(attempt.number)
        events, _ = read_events(str(path))
        end = next((ev for ev in reversed(events) if ev.get("type") == "end"), None)
        if (
            not stopped
            and end is not None
            and (end.get("status") == "ok" or end.get("after_training"))
        ):
            for ev in map(E.as_epoch, events):
                if ev is not None and int(ev.get("epoch", 0)) > (attempt.last_epoch or 0):
                    recorder.epoch(trial, attempt.number, ev, None)
            kept = "finished while the controller was down; result kept"
            crash = E.crash_after_training(events)
            outcome = (
                Outcome(OutcomeKind.SUCCEEDED_WITH_ERROR, reason=E.crash_warning(crash))
                if crash
                else Outcome(OutcomeKind.SUCCEEDED, reason=kept)
            )
            recorder.end(trial.id, attempt.number, outcome, events, kept)
            return attempt.number, events
        reason = "the controller stopped during this attempt" + (
            "; its orphaned process was stopped" if stopped else ""
        )
        recorder.end(trial.id, attempt.number, Outcome(OutcomeKind.LOST), events, reason)
    return None
