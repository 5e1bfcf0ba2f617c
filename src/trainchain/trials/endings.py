"""How a trial ends: completed with its metric (chosen from the events), completed at a budget's
deadline with its best epoch so far, pruned, or failed with a message that quotes the output.
Each ending is stored first, then announced (``trial_end``)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from trainchain.agent import STDOUT_PATTERNS
from trainchain.states import TrialState
from trainchain.store import Store, Trial, utcnow
from trainchain.trials import attempt_events as E
from trainchain.trials import metrics as M
from trainchain.trials.attempt_log import log_tail
from trainchain.trials.policy import AttemptSummary
from trainchain.trials.setup import Deadline, Progress, TrialResult, TrialSetup
from trainchain.trials.workspace import trial_dirs

STDOUT_PATTERNS_HINT = (
    "metric events from trainchain.agent.log_metric, Keras fit/evaluate, metrics.json in the "
    "output dir, printed lines like 'accuracy: 0.81', 'val_accuracy=0.9', 'test_acc=0.93', "
    "'final accuracy  83' (stdout patterns: " + " ; ".join(STDOUT_PATTERNS) + ")"
)


class TrialEndings:
    def __init__(self, store: Store, setup: TrialSetup, progress: Progress) -> None:
        self.store, self.setup, self.progress = store, setup, progress

    def success(self, trial: Trial, events: list[dict[str, Any]], attempt_no: int) -> TrialResult:
        """The script ended well: the trial completes with its metric, or fails if none was
        found (saying where it looked and quoting the output)."""
        choice = M.choose_metric(events, self.setup.metric, self.setup.goal)
        crash = E.crash_after_training(events)
        if choice is None:
            tail = log_tail(trial_dirs(self.setup.run_dir, trial.number).log(attempt_no), 20)
            wanted = "metric" if self.setup.metric == "auto" else f"metric {self.setup.metric!r}"
            if crash is not None:
                error = E.metric_after_crash(trial.number, wanted, crash, events, tail)
                return self.finish(trial, TrialState.FAILED, error=error)
            error = (
                f"trial {trial.number}: found no {wanted}; tried {STDOUT_PATTERNS_HINT}. "
                f"Set metric: in trainchain.yaml or print it. Last lines of output:\n{tail}"
            )
            return self.finish(trial, TrialState.FAILED, error=error)
        self.store.update_trial(
            trial.id,
            value=choice.value,
            metric_name=choice.name,
            metric_source=choice.source,
            metrics=choice.all_metrics,
            model_path=E.model_path(events),
            info=E.trial_info(trial, events, E.crash_warning(crash) if crash else None),
        )
        return self.finish(trial, TrialState.COMPLETE)

    def at_deadline(
        self, trial: Trial, events: list[dict[str, Any]], deadline: Deadline
    ) -> TrialResult:
        """A trial stopped at a budget's deadline completes with its best epoch so far: the
        agent loaded that epoch's weights back and saved the model when SIGTERM came (the
        ``best`` and ``model`` events). Its value is the best epoch's figure of the trial's
        metric (``val_<metric>`` first): the script's own evaluation after ``fit`` never ran.
        Without an epoch kept (stopped in the first one, or a script without a Keras ``fit``)
        the trial is pruned."""
        fresh = self.store.trial(self.setup.run_id, trial.number) or trial
        last = max((e.epoch for e in fresh.epochs), default=0)
        best = next((ev for ev in reversed(events) if ev.get("type") == "best"), None)
        model = E.model_path(events)
        if best is None or model is None or not M._is_number(best.get("value")):
            why = (
                f"{deadline.reason} after epoch {last} with no best epoch and model kept"
                if last
                else f"{deadline.reason} before its first epoch ended"
            )
            return self.finish(trial, TrialState.PRUNED, error=why)
        metrics = {k: float(v) for k, v in (best.get("metrics") or {}).items() if M._is_number(v)}
        wanted = self.setup.metric
        found = M.epoch_metric(metrics, wanted) if wanted != "auto" else None
        name, value = (
            (wanted, found[1]) if found else (str(best.get("metric")), float(best["value"]))
        )
        why = (
            f"{deadline.reason} after epoch {last}; it keeps its best epoch {best.get('epoch')} "
            f"({found[0] if found else name} {value:.4f})"
        )
        self.store.update_trial(
            trial.id,
            value=value,
            metric_name=name,
            metric_source="keras_epoch",
            metrics=metrics,
            model_path=model,
            info={**E.trial_info(fresh, events, why), "stopped": {"epoch": last, "why": why}},
        )
        self.progress({"kind": "log", "message": f"trial {trial.number} {why}"})
        return self.finish(trial, TrialState.COMPLETE)

    def finish(self, trial: Trial, state: TrialState, error: str | None = None) -> TrialResult:
        self.store.update_trial(trial.id, state=state.value, error=error, ended_at=utcnow())
        fresh = self.store.trial(self.setup.run_id, trial.number)
        assert fresh is not None
        result = result_of(fresh)
        self.progress(
            {
                "kind": "trial_end",
                "trial": trial.number,
                "state": state.value,
                "value": result.value,
                "metric": result.metric_name,
                "error": error,
                "warning": fresh.info.get("warning") if fresh.info else None,
            }
        )
        return result

    def failure(self, trial: Trial, summary: AttemptSummary, decision: str, attempt_no: int) -> str:
        """A failed trial's message: the policy's decision, the exception, the last output."""
        exc = summary.exception
        tail = log_tail(trial_dirs(self.setup.run_dir, trial.number).log(attempt_no), 20)
        head = f"trial {trial.number} failed: {decision}"
        if exc and exc.get("type") and str(exc.get("type")) not in decision:
            head += (
                f"\n  {exc.get('type')}: {exc.get('message')} ({exc.get('file')}:{exc.get('line')})"
            )
        return f"{head}\n  last lines of output:\n{tail}"


def result_of(t: Trial) -> TrialResult:
    """The result as stored on the trial's row."""
    same = {f.name: getattr(t, f.name) for f in fields(TrialResult)} | {
        "state": TrialState(t.state),
        "params": dict(t.params),
        "epochs": len(t.epochs),
    }
    return TrialResult(**same)
