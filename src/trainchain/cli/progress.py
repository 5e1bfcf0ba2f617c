"""What a run is doing now, folded from pipeline progress events: a pure model the views render.

It knows the stage, the plan (budget, target), every trial in flight (epoch e of E, the current
metric, seconds per epoch) and the best value so far, and estimates how long is left from the
measured epoch and trial times. The clock is injected so the estimates are unit-testable.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainchain.states import StageState, TrialState
from trainchain.trials import metrics as M


@dataclass
class TrialProgress:
    number: int
    started: float
    epoch: int = 0
    epochs: int | None = None  # total epochs, when the framework said (Keras fit)
    initial_epoch: int = 0  # a resumed attempt starts here: those epochs cost nothing now
    value: float | None = None  # the run's metric at the last epoch
    metric: str | None = None  # its name as the epoch reported it (val_accuracy, loss...)
    epoch_times: list[float] = field(default_factory=list)
    last_epoch_at: float | None = None

    def seconds_per_epoch(self) -> float | None:
        return statistics.median(self.epoch_times) if self.epoch_times else None

    def eta(self) -> float | None:
        """Seconds until this trial's last epoch ends, when its length is known."""
        per_epoch = self.seconds_per_epoch()
        if per_epoch is None or self.epochs is None:
            return None
        return max(0, self.epochs - self.epoch) * per_epoch


@dataclass
class Plan:
    metric: str = "auto"
    goal: str = "maximize"
    target: float | None = None
    max_trials: int | None = None
    timeout: float | None = None


class RunProgress:
    """Thread-safe: parallel trials report from their own threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.stage: str | None = None
        self.plan = Plan()
        self.active: dict[int, TrialProgress] = {}
        self.finished: list[tuple[int, str, float]] = []  # number, state, seconds
        self.best: float | None = None
        self.best_trial: int | None = None
        self.building: str | None = None
        self._lock = threading.Lock()

    def update(self, event: dict[str, Any]) -> None:
        with self._lock:
            handler = _HANDLERS.get(str(event.get("kind")))
            if handler is not None:
                handler(self, event)

    # -- estimates -------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.clock() - self.started

    def trials_done(self) -> int:
        return len(self.finished)

    def eta_run(self) -> float | None:
        """An upper estimate of the time left: trials in flight, then the rest of the budget.

        Tuning stops earlier when a trial reaches the target, so this is "at most, if nothing
        reaches it". None until one trial's length has been measured or while nothing is known.
        """
        with self._lock:
            durations = [
                seconds for _, state, seconds in self.finished if state == TrialState.COMPLETE
            ]
            if not durations:
                durations = [
                    t.epochs * per
                    for t in self.active.values()
                    if t.epochs is not None and (per := t.seconds_per_epoch()) is not None
                ]
            typical = statistics.median(durations) if durations else None
            in_flight = [self._trial_left(t, typical) for t in self.active.values()]
            known = [e for e in in_flight if e is not None]
            if self.plan.max_trials is None or typical is None:
                return max(known, default=None)
            remaining = self.plan.max_trials - len(self.finished) - len(self.active)
            parallel = max(1, len(self.active))
            return max(known, default=0.0) + max(0, remaining) * typical / parallel

    def _trial_left(self, trial: TrialProgress, typical: float | None) -> float | None:
        """From its epochs when its length is known, else a typical trial's length."""
        eta = trial.eta()
        if eta is None and typical is not None:
            eta = max(0.0, typical - (self.clock() - trial.started))
        return eta

    def trials(self) -> list[TrialProgress]:
        """The trials in flight, by number (a copy: other threads keep reporting)."""
        with self._lock:
            return [self.active[n] for n in sorted(self.active)]

    def metric_label(self) -> str:
        return self.plan.metric if self.plan.metric != "auto" else "metric"


def _on_stage(p: RunProgress, ev: dict[str, Any]) -> None:
    if ev.get("state") == StageState.RUNNING:
        p.stage = str(ev.get("stage"))
        p.building = None


def _on_plan(p: RunProgress, ev: dict[str, Any]) -> None:
    p.plan = Plan(
        metric=str(ev.get("metric") or "auto"),
        goal=str(ev.get("goal") or "maximize"),
        target=ev.get("target"),
        max_trials=ev.get("max_trials"),
        timeout=ev.get("timeout"),
    )


def _on_build(p: RunProgress, ev: dict[str, Any]) -> None:
    p.building = str(ev.get("line", ""))


def _on_trial_start(p: RunProgress, ev: dict[str, Any]) -> None:
    now = p.clock()
    p.active[int(ev["trial"])] = TrialProgress(int(ev["trial"]), now, last_epoch_at=now)


def _on_fit(p: RunProgress, ev: dict[str, Any]) -> None:
    trial = p.active.get(int(ev["trial"]))
    if trial is None:
        return
    if ev.get("epochs") is not None:
        trial.epochs = int(ev["epochs"])
    trial.initial_epoch = int(ev.get("initial_epoch") or 0)
    trial.last_epoch_at = p.clock()  # the time to build the model is not an epoch's


def _on_epoch(p: RunProgress, ev: dict[str, Any]) -> None:
    trial = p.active.get(int(ev["trial"]))
    if trial is None:
        return
    now = p.clock()
    epoch = int(ev.get("epoch", 0))
    if trial.last_epoch_at is not None and epoch > trial.epoch:
        # several epochs between two polls share the time
        trial.epoch_times.append((now - trial.last_epoch_at) / max(1, epoch - trial.epoch))
    trial.last_epoch_at = now
    trial.epoch = epoch
    name = p.plan.metric
    if name == "auto":  # as the pruner reads it before the baseline named the metric
        name = "accuracy" if p.plan.goal == "maximize" else "loss"
    found = M.epoch_metric(ev.get("metrics") or {}, name)
    if found is not None:
        trial.metric, trial.value = found


def _on_trial_end(p: RunProgress, ev: dict[str, Any]) -> None:
    number = int(ev["trial"])
    trial = p.active.pop(number, None)
    seconds = p.clock() - trial.started if trial is not None else 0.0
    p.finished.append((number, str(ev.get("state")), seconds))
    value = ev.get("value")
    if p.plan.metric == "auto" and ev.get("metric"):
        p.plan.metric = str(ev["metric"])  # the baseline named the metric
    if ev.get("state") == TrialState.COMPLETE and M.better(value, p.best, p.plan.goal):
        p.best, p.best_trial = value, number


def _on_restart(p: RunProgress, ev: dict[str, Any]) -> None:
    trial = p.active.get(int(ev["trial"]))
    if trial is not None:
        trial.last_epoch_at = None  # the next epoch time includes a restart: do not count it


_HANDLERS: dict[str, Callable[[RunProgress, dict[str, Any]], None]] = {
    "stage": _on_stage,
    "plan": _on_plan,
    "build": _on_build,
    "trial_start": _on_trial_start,
    "fit": _on_fit,
    "epoch": _on_epoch,
    "trial_end": _on_trial_end,
    "restart": _on_restart,
}


def duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``1h02m``: for people, not parsers."""
    if seconds is None:
        return "–"
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
