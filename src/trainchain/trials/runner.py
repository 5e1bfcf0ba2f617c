"""TrialRunner: one trial = attempts under supervision until it completes, is pruned or fails.

It copies the commit, starts an attempt through the runtime, tails the events file (epochs go
to the store and to ``on_epoch``, which may ask to prune), applies the restart policy after an
abnormal end, and chooses the trial's metric. Every step is recorded before the next, so a
killed controller resumes an unfinished trial from its checkpoint instead of starting over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tenacity

from trainchain import interrupts
from trainchain.agent import STDOUT_PATTERNS, contract
from trainchain.agent.events import read_events
from trainchain.errors import RuntimeUnavailableError
from trainchain.runtimes.base import (
    Environment,
    Outcome,
    Resources,
    Runtime,
    TrialProcess,
    TrialSpec,
)
from trainchain.settings import operator_settings
from trainchain.states import OutcomeKind, TrialState
from trainchain.store import Attempt, Store, Trial, utcnow
from trainchain.trials import attempt_events as E
from trainchain.trials import metrics as M
from trainchain.trials.policy import AttemptSummary, Decision, decide
from trainchain.trials.workspace import fresh_copy, trial_dirs

log = logging.getLogger(__name__)
Progress = Callable[[dict[str, Any]], None]
# truthy = stop (prune) this trial now; a string says why. NaN/inf values are passed too.
EpochHook = Callable[[int, dict[str, float]], bool | str | None]
POLL_SECONDS = 0.25
LOG_CAP_BYTES = 64 * 1024 * 1024  # per attempt (TRAINCHAIN_LOG_CAP_BYTES): head + latest
RUNTIME_WAIT_SECONDS = 180.0  # how long an attempt waits for an engine that went away
STDOUT_PATTERNS_HINT = (
    "metric events from trainchain.agent.log_metric, Keras fit/evaluate, metrics.json in the "
    "output dir, printed lines like 'accuracy: 0.81', 'val_accuracy=0.9', 'test_acc=0.93', "
    "'final accuracy  83' (stdout patterns: " + " ; ".join(STDOUT_PATTERNS) + ")"
)


@dataclass(frozen=True)
class TrialSetup:
    """What every trial of a run shares."""

    run_id: str
    run_dir: Path
    snapshot: Path
    entrypoint: str
    args: tuple[str, ...] = ()
    data: dict[str, Path] = field(default_factory=dict)
    metric: str = "auto"
    goal: str = "maximize"
    trial_timeout: float | None = None
    stall_timeout: float | None = None
    max_restarts: int = 3
    resources: Resources = Resources()
    restart_backoff: float = 1.0
    datasets: Path | None = None  # the dataset cache, when the script downloads datasets
    seed: int | None = None  # seed: of trainchain.yaml; each trial's seed derives from it
    target: float | None = None  # the agent ends a fit whose validation metric reaches it


@dataclass(frozen=True)
class Deadline:
    """When a running trial is stopped because a budget is spent (``time.monotonic()``), and
    which budget: "the tuning budget (--timeout 600s)". Such a trial is not a failure: it keeps
    its best epoch so far (value and model) and completes."""

    at: float
    budget: str

    @property
    def reason(self) -> str:
        return f"stopped at {self.budget}"


@dataclass
class TrialResult:
    number: int
    state: TrialState
    params: dict[str, Any]
    value: float | None = None
    metric_name: str | None = None
    metric_source: str | None = None
    model_path: str | None = None
    error: str | None = None
    epochs: int = 0


class TrialRunner:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        env: Environment,
        setup: TrialSetup,
        progress: Progress | None = None,
    ) -> None:
        self.store, self.runtime, self.env, self.setup = store, runtime, env, setup
        self.progress = progress or (lambda _event: None)
        self._ahead: dict[int, Path] = {}  # trial number -> working copy prepared ahead
        self._ahead_lock = threading.Lock()

    # -- public ------------------------------------------------------------------------------
    def run(
        self,
        number: int,
        params: dict[str, Any],
        on_epoch: EpochHook | None = None,
        optuna_number: int | None = None,
        deadline: Deadline | None = None,
    ) -> TrialResult:
        """Train trial ``number`` to its end; at ``deadline`` a running attempt is stopped and
        the trial keeps its best epoch so far (``_finish_at_deadline``)."""
        trial = self._trial_row(number, params, optuna_number)
        if trial.state != TrialState.RUNNING.value:
            return self._result(trial)  # finished before a controller restart: never rerun
        self.progress({"kind": "trial_start", "trial": number, "params": trial.params})
        attached = self._reattach(trial)
        skip = attached[0].number if attached else None
        finished = self._close_orphans(trial, skip)
        trial = self.store.trial(self.setup.run_id, number) or trial
        if finished is not None:  # it ended well while no controller watched: keep its result
            return self._finish_success(trial, finished[1], finished[0])
        history = [self._summary(a) for a in trial.attempts if a.number != skip]
        params = dict(trial.params)
        while True:
            attempt_no = len(history) + 1
            if attached is not None:  # still training on the cluster: follow it, do not restart
                row, process = attached
                attached = None
                spec = self._spec(trial, row.number, params)
                outcome, events = self._follow(
                    process, spec, trial, row.number, on_epoch, row.last_epoch or 0, deadline
                )
            else:
                outcome, events = self._attempt(trial, attempt_no, params, on_epoch, deadline)
            outcome = E.after_training(outcome, events)
            summary = E.summarize(outcome, events)
            history.append(summary)
            decision = decide(history, self.setup.max_restarts, self.setup.restart_backoff)
            if decision.restart and deadline is not None and time.monotonic() >= deadline.at:
                decision = Decision(
                    False, f"{summary.reason}; not restarted: {deadline.budget} is spent"
                )
            self._end_attempt(trial.id, attempt_no, outcome, events, decision.reason)
            if outcome.kind in (OutcomeKind.SUCCEEDED, OutcomeKind.SUCCEEDED_WITH_ERROR):
                return self._finish_success(trial, events, attempt_no)
            if outcome.kind == OutcomeKind.STOPPED:
                if deadline is not None and outcome.reason == deadline.reason:
                    return self._finish_at_deadline(trial, events, deadline)
                return self._finish(trial, TrialState.PRUNED, error=outcome.reason)
            if not decision.restart:
                return self._finish(
                    trial,
                    TrialState.FAILED,
                    error=self._failure(trial, summary, decision.reason, attempt_no),
                )
            if decision.halve_batch:
                params["keras.batch_size"] = max(1, int(E.batch_size(events, params)) // 2)
                self.store.update_trial(trial.id, params=dict(params))
            self.progress({"kind": "restart", "trial": number, "reason": decision.reason})
            time.sleep(decision.backoff)
            trial = self.store.trial(self.setup.run_id, number) or trial

    # -- attempts ----------------------------------------------------------------------------
    def _spec(self, trial: Trial, attempt_no: int, params: dict[str, Any]) -> TrialSpec:
        extra_env = {
            contract.SEED: str(trial_seed(trial, self.setup)),
            contract.FIT: json.dumps(
                {"metric": self.setup.metric, "goal": self.setup.goal}
                | {"target": self.setup.target, "early_stop": True}
            ),
        }
        return self._spec_of(trial.number, attempt_no, params, extra_env)

    def _spec_of(
        self, number: int, attempt_no: int, params: dict[str, Any], extra_env: dict[str, str]
    ) -> TrialSpec:
        dirs = trial_dirs(self.setup.run_dir, number)
        return TrialSpec(
            run_id=self.setup.run_id,
            trial=number,
            attempt=attempt_no,
            workdir=dirs.work(attempt_no),
            entrypoint=self.setup.entrypoint,
            args=self.setup.args,
            params=params,
            output_dir=dirs.output,
            checkpoint_dir=dirs.checkpoints,
            events_path=dirs.events(attempt_no),
            log_path=dirs.log(attempt_no),
            data=self.setup.data,
            datasets=self.setup.datasets,
            extra_env=extra_env,
            resources=self.setup.resources,
        )

    def _attempt(
        self,
        trial: Trial,
        attempt_no: int,
        params: dict[str, Any],
        on_epoch: EpochHook | None,
        deadline: Deadline | None = None,
    ) -> tuple[Outcome, list[dict[str, Any]]]:
        spec = self._spec(trial, attempt_no, params)
        if not self._prepared(spec):
            fresh_copy(self.setup.snapshot, spec.workdir)
        spec.events_path.unlink(missing_ok=True)
        process = self._start(spec)
        self.store.add_attempt(trial.id, attempt_no, process.id)
        if trial.number >= 1:  # tuning: more trials come (the baseline, 0, is often the only one)
            self._prepare(trial.number + 1)
        return self._follow(process, spec, trial, attempt_no, on_epoch, deadline=deadline)

    def _prepare(self, number: int) -> None:
        """On a runtime that starts attempts ahead (docker: the container's create and start),
        make trial ``number``'s working copy and have the runtime prepare its first attempt
        while this trial trains. A trial that never comes wastes one start, nothing else."""
        if not self.runtime.starts_ahead:
            return
        spec = self._spec_of(number, 1, {}, {})
        with self._ahead_lock:
            if number in self._ahead or spec.workdir.parent.exists():
                return  # prepared already, or started (another worker, an earlier controller)
            try:
                fresh_copy(self.setup.snapshot, spec.workdir)
                self.runtime.prepare(self.env, spec)
            except Exception as exc:  # noqa: BLE001 - the attempt will simply start cold
                log.warning("could not prepare trial %s ahead: %s", number, exc)
                return
            self._ahead[number] = spec.workdir

    def _prepared(self, spec: TrialSpec) -> bool:
        """Whether ``spec``'s working copy was made ahead (waits while it is being made)."""
        with self._ahead_lock:
            workdir = self._ahead.pop(spec.trial, None)
        return spec.attempt == 1 and workdir == spec.workdir and workdir.is_dir()

    def _follow(
        self,
        process: TrialProcess,
        spec: TrialSpec,
        trial: Trial,
        attempt_no: int,
        on_epoch: EpochHook | None,
        recorded: int = 0,
        deadline: Deadline | None = None,
    ) -> tuple[Outcome, list[dict[str, Any]]]:
        try:
            return self._watch(process, spec, trial, attempt_no, on_epoch, recorded, deadline)
        except KeyboardInterrupt:  # Ctrl-C: leave no training behind; resume restarts it
            reason = "the controller was interrupted"
            process.kill(OutcomeKind.STOPPED, reason)
            self._end_attempt(trial.id, attempt_no, Outcome(OutcomeKind.STOPPED), [], reason)
            raise

    def _start(self, spec: TrialSpec) -> TrialProcess:
        """Start the attempt; while the runtime is unavailable (dockerd restarting), wait."""

        def waiting(delay: float, why: str) -> None:
            reason = f"waiting {delay:g}s for the runtime: {why}"
            self.progress({"kind": "restart", "trial": spec.trial, "reason": reason})

        return start_when_available(lambda: self.runtime.start(self.env, spec), waiting)

    def _watch(
        self,
        process: TrialProcess,
        spec: TrialSpec,
        trial: Trial,
        attempt_no: int,
        on_epoch: EpochHook | None,
        recorded: int = 0,
        deadline: Deadline | None = None,
    ) -> tuple[Outcome, list[dict[str, Any]]]:
        """Follow one attempt: events to the store, pruning, trial and stall timeouts, and a
        graceful stop (as pruning's) at ``deadline``.

        Epochs up to ``recorded`` were stored by a controller that died (a re-attached attempt).
        """
        events: list[dict[str, Any]] = []
        stopping = False
        offset, started, last_activity, last_size = 0, time.monotonic(), time.monotonic(), 0
        outcome: Outcome | None = None
        while outcome is None:
            interrupts.check()  # a Ctrl-C whose KeyboardInterrupt was swallowed still stops us
            outcome = process.wait(POLL_SECONDS)
            new, offset = read_events(str(spec.events_path), offset)
            events.extend(new)
            size = cap_log(spec.log_path) if spec.log_path.exists() else 0
            if new or size != last_size:
                last_activity, last_size = time.monotonic(), size
            for raw in new:
                if raw.get("type") == "fit":  # Keras says how many epochs this fit will run
                    self._announce_fit(trial.number, raw)
                elif raw.get("type") == "recovered":
                    self._record_recovered(trial, attempt_no, raw)
            for ev in map(E.as_epoch, new):
                if ev is None or int(ev.get("epoch", 0)) <= recorded:
                    continue
                verdict = self._record_epoch(trial, attempt_no, ev, on_epoch)
                if verdict:
                    process.stop(verdict if isinstance(verdict, str) else "pruned")
            if outcome is not None:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline.at and not stopping:
                stopping = True
                process.stop(deadline.reason)  # SIGTERM: the agent keeps the best epoch
            elif self.setup.trial_timeout and now - started > self.setup.trial_timeout:
                process.kill(
                    OutcomeKind.TIMEOUT,
                    f"exceeded the trial timeout of {self.setup.trial_timeout:g}s",
                )
            elif self.setup.stall_timeout and now - last_activity > self.setup.stall_timeout:
                process.kill(
                    OutcomeKind.KILLED, f"stalled: no output for {self.setup.stall_timeout:g}s"
                )
        new, offset = read_events(str(spec.events_path), offset)
        events.extend(new)
        for raw in new:
            if raw.get("type") == "recovered":
                self._record_recovered(trial, attempt_no, raw)
        for ev in map(E.as_epoch, new):
            if ev is not None and int(ev.get("epoch", 0)) > recorded:
                self._record_epoch(trial, attempt_no, ev, None)
        return outcome, events

    def _announce_fit(self, number: int, ev: dict[str, Any]) -> None:
        self.progress(
            {
                "kind": "fit",
                "trial": number,
                "epochs": ev.get("epochs"),
                "initial_epoch": ev.get("initial_epoch"),
            }
        )

    def _record_recovered(self, trial: Trial, attempt_no: int, ev: dict[str, Any]) -> None:
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

    def _record_epoch(
        self, trial: Trial, attempt: int, ev: dict[str, Any], hook: EpochHook | None
    ) -> bool | str | None:
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

    def _end_attempt(
        self,
        trial_id: int,
        number: int,
        outcome: Outcome,
        events: list[dict[str, Any]],
        reason: str,
    ) -> None:
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

    # -- endings ------------------------------------------------------------------------------
    def _finish_success(
        self, trial: Trial, events: list[dict[str, Any]], attempt_no: int
    ) -> TrialResult:
        choice = M.choose_metric(events, self.setup.metric, self.setup.goal)
        crash = E.crash_after_training(events)
        if choice is None:
            tail = _tail(trial_dirs(self.setup.run_dir, trial.number).log(attempt_no), 20)
            wanted = "metric" if self.setup.metric == "auto" else f"metric {self.setup.metric!r}"
            if crash is not None:
                error = E.metric_after_crash(trial.number, wanted, crash, events, tail)
                return self._finish(trial, TrialState.FAILED, error=error)
            error = (
                f"trial {trial.number}: found no {wanted}; tried {STDOUT_PATTERNS_HINT}. "
                f"Set metric: in trainchain.yaml or print it. Last lines of output:\n{tail}"
            )
            return self._finish(trial, TrialState.FAILED, error=error)
        self.store.update_trial(
            trial.id,
            value=choice.value,
            metric_name=choice.name,
            metric_source=choice.source,
            metrics=choice.all_metrics,
            model_path=E.model_path(events),
            info=E.trial_info(trial, events, E.crash_warning(crash) if crash else None),
        )
        return self._finish(trial, TrialState.COMPLETE)

    def _finish_at_deadline(
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
            return self._finish(trial, TrialState.PRUNED, error=why)
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
        return self._finish(trial, TrialState.COMPLETE)

    def _finish(self, trial: Trial, state: TrialState, error: str | None = None) -> TrialResult:
        self.store.update_trial(trial.id, state=state.value, error=error, ended_at=utcnow())
        fresh = self.store.trial(self.setup.run_id, trial.number)
        assert fresh is not None
        result = self._result(fresh)
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

    def _failure(
        self, trial: Trial, summary: AttemptSummary, decision: str, attempt_no: int
    ) -> str:
        exc = summary.exception
        tail = _tail(trial_dirs(self.setup.run_dir, trial.number).log(attempt_no), 20)
        head = f"trial {trial.number} failed: {decision}"
        if exc and exc.get("type") and str(exc.get("type")) not in decision:
            head += (
                f"\n  {exc.get('type')}: {exc.get('message')} ({exc.get('file')}:{exc.get('line')})"
            )
        return f"{head}\n  last lines of output:\n{tail}"

    # -- rows ---------------------------------------------------------------------------------
    def _trial_row(self, number: int, params: dict[str, Any], optuna_number: int | None) -> Trial:
        existing = self.store.trial(self.setup.run_id, number)
        if existing is not None:
            return existing
        return self.store.add_trial(
            self.setup.run_id,
            number,
            params=params,
            optuna_number=optuna_number,
            info={"seed": _new_seed(self.setup, number)},
        )

    def _reattach(self, trial: Trial) -> tuple[Attempt, TrialProcess] | None:
        """The last attempt, left running by a controller that died, if the runtime can follow
        it again (a detached Ray actor still training on the cluster)."""
        running = [a for a in trial.attempts if a.outcome == OutcomeKind.RUNNING and a.process_id]
        if not running:
            return None
        last = max(running, key=lambda a: a.number)
        spec = self._spec(trial, last.number, dict(trial.params))
        process = self.runtime.reattach(last.process_id or "", spec)
        if process is None:
            return None
        self.progress(
            {
                "kind": "restart",
                "trial": trial.number,
                "reason": f"attempt {last.number} is still running ({process.id}): following it",
            }
        )
        return last, process

    def _close_orphans(
        self, trial: Trial, skip: int | None = None
    ) -> tuple[int, list[dict[str, Any]]] | None:
        """An attempt still 'running' belongs to a controller that died.

        If its events show it finished well, it is kept (number and events are returned) and
        its unrecorded epochs are stored; otherwise its process is stopped and it is marked lost.
        Attempt ``skip`` was re-attached and is followed instead.
        """
        for attempt in trial.attempts:
            if attempt.outcome != OutcomeKind.RUNNING or attempt.number == skip:
                continue
            stopped = bool(attempt.process_id) and self.runtime.reap(
                attempt.process_id or "", self.setup.run_id
            )
            path = trial_dirs(self.setup.run_dir, trial.number).events(attempt.number)
            events, _ = read_events(str(path))
            end = next((ev for ev in reversed(events) if ev.get("type") == "end"), None)
            if (
                not stopped
                and end is not None
                and (end.get("status") == "ok" or end.get("after_training"))
            ):
                for ev in map(E.as_epoch, events):
                    if ev is not None and int(ev.get("epoch", 0)) > (attempt.last_epoch or 0):
                        self._record_epoch(trial, attempt.number, ev, None)
                kept = "finished while the controller was down; result kept"
                crash = E.crash_after_training(events)
                outcome = (
                    Outcome(OutcomeKind.SUCCEEDED_WITH_ERROR, reason=E.crash_warning(crash))
                    if crash
                    else Outcome(OutcomeKind.SUCCEEDED, reason=kept)
                )
                self._end_attempt(trial.id, attempt.number, outcome, events, kept)
                return attempt.number, events
            reason = "the controller stopped during this attempt" + (
                "; its orphaned process was stopped" if stopped else ""
            )
            self._end_attempt(trial.id, attempt.number, Outcome(OutcomeKind.LOST), events, reason)
        return None

    def _summary(self, a: Attempt) -> AttemptSummary:
        return AttemptSummary(
            OutcomeKind(a.outcome)
            if a.outcome in OutcomeKind._value2member_map_ and a.outcome != OutcomeKind.RUNNING
            else OutcomeKind.LOST,
            a.reason,
            None,
            a.last_epoch,
        )

    def _result(self, t: Trial) -> TrialResult:
        same = {f.name: getattr(t, f.name) for f in fields(TrialResult)} | {
            "state": TrialState(t.state),
            "params": dict(t.params),
            "epochs": len(t.epochs),
        }
        return TrialResult(**same)


def _new_seed(setup: TrialSetup, number: int) -> int:
    """A trial's seed: ``seed:`` + trial number when configured, else drawn from the run and
    the trial number (stable across restarts and controller resumes, different per trial)."""
    if setup.seed is not None:
        return (setup.seed + number) % 2**31
    digest = hashlib.sha256(f"{setup.run_id}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 2**31


def start_when_available(
    start: Callable[[], TrialProcess],
    waiting: Callable[[float, str], None],
    limit: float = RUNTIME_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> TrialProcess:
    """``start()``, again after 1, 2, 4, 8, 15, 15... seconds while it raises
    ``RuntimeUnavailableError``; the last error once the next wait would pass ``limit``."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        waiting(state.upcoming_sleep, getattr(failure, "message", str(failure)))

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RuntimeUnavailableError),
        wait=tenacity.wait_exponential(multiplier=1, max=15),
        stop=tenacity.stop_before_delay(limit),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(start)


def trial_seed(trial: Trial, setup: TrialSetup) -> int:
    """The seed recorded on the trial (every attempt of it gets the same one)."""
    seed = (trial.info or {}).get("seed")
    return int(seed) if isinstance(seed, int) else _new_seed(setup, trial.number)


_SUCCESS = (OutcomeKind.SUCCEEDED, OutcomeKind.SUCCEEDED_WITH_ERROR)


def cap_log(path: Path, limit: int | None = None) -> int:
    """Bound an attempt's log: past ``limit`` bytes keep its first half and a marker, and the
    writer (appending) goes on after them. Returns the size now."""
    limit = limit or operator_settings().log_cap_bytes or LOG_CAP_BYTES
    size = path.stat().st_size
    if size <= limit:
        return size
    head = limit // 2
    marker = f"\n[trainchain: log over {limit} bytes; {size - head} bytes dropped here]\n"
    with open(path, "r+b") as fh:
        fh.seek(head)
        fh.write(marker.encode())
        fh.truncate()
        return fh.tell()


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as fh:  # only the end: a log may be large
            fh.seek(max(0, fh.seek(0, 2) - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "    (no output)"
    rows = [row for row in text.replace("\r", "\n").splitlines() if row.strip()][-lines:]
    return "\n".join(f"    {row}" for row in rows) or "    (no output)"
