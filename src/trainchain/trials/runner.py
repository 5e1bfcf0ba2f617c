"""TrialRunner: one trial = attempts under supervision until it completes, is pruned or fails.

It copies the commit, starts an attempt through the runtime, tails the events file (epochs go
to the store and to ``on_epoch``, which may ask to prune), applies the restart policy after an
abnormal end, and chooses the trial's metric. Every step is recorded before the next, so a
killed controller resumes an unfinished trial from its checkpoint instead of starting over.
The store writes as an attempt goes are ``recording``'s, a trial's endings ``endings``', and
what to do with attempts a dead controller left running ``orphans``'.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from trainchain import interrupts
from trainchain.agent import contract
from trainchain.agent.events import read_events
from trainchain.runtimes.base import (
    Environment,
    Outcome,
    Runtime,
    TrialProcess,
    TrialSpec,
)
from trainchain.states import OutcomeKind, TrialState
from trainchain.store import Attempt, Store, Trial
from trainchain.trials import attempt_events as E
from trainchain.trials.attempt_log import cap_log
from trainchain.trials.endings import TrialEndings, result_of
from trainchain.trials.orphans import close_orphans, reattach
from trainchain.trials.policy import AttemptSummary, Decision, decide
from trainchain.trials.recording import AttemptRecorder
from trainchain.trials.runtime_wait import start_when_available
from trainchain.trials.setup import (
    Deadline,
    EpochHook,
    Progress,
    TrialResult,
    TrialSetup,
    new_seed,
    trial_seed,
)
from trainchain.trials.workspace import fresh_copy, trial_dirs

__all__ = ["Deadline", "EpochHook", "Progress", "TrialResult", "TrialRunner", "TrialSetup"]

log = logging.getLogger(__name__)
AHEAD = ".prepared"  # in a trial's directory: its first working copy was made ahead, unused
POLL_SECONDS = 0.25


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
        self.recorder = AttemptRecorder(store, self.progress)
        self.endings = TrialEndings(store, setup, self.progress)
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
        the trial keeps its best epoch so far (``TrialEndings.at_deadline``)."""
        trial = self._trial_row(number, params, optuna_number)
        if trial.state != TrialState.RUNNING.value:
            return result_of(trial)  # finished before a controller restart: never rerun
        self.progress({"kind": "trial_start", "trial": number, "params": trial.params})
        attached = reattach(
            trial, self.runtime, lambda n: self._spec(trial, n, dict(trial.params)), self.progress
        )
        skip = attached[0].number if attached else None
        finished = close_orphans(trial, self.runtime, self.setup, self.recorder, skip)
        trial = self.store.trial(self.setup.run_id, number) or trial
        if finished is not None:  # it ended well while no controller watched: keep its result
            return self.endings.success(trial, finished[1], finished[0])
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
            self.recorder.end(trial.id, attempt_no, outcome, events, decision.reason)
            if outcome.kind in (OutcomeKind.SUCCEEDED, OutcomeKind.SUCCEEDED_WITH_ERROR):
                return self.endings.success(trial, events, attempt_no)
            if outcome.kind == OutcomeKind.STOPPED:
                if deadline is not None and outcome.reason == deadline.reason:
                    return self.endings.at_deadline(trial, events, deadline)
                return self.endings.finish(trial, TrialState.PRUNED, error=outcome.reason)
            if not decision.restart:
                error = self.endings.failure(trial, summary, decision.reason, attempt_no)
                return self.endings.finish(trial, TrialState.FAILED, error=error)
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
            resources=self.setup.tuned_resources
            if number and self.setup.tuned_resources
            else self.setup.resources,
            preload=self.setup.preload,
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
        if trial.number >= 1:  # more trials come: the one after those running now
            self._prepare(trial.number + self.setup.parallel)
        elif self.setup.tuned:  # the baseline: the first tuning trials
            for number in range(1, self.setup.parallel + 1):
                self._prepare(number)
        return self._follow(process, spec, trial, attempt_no, on_epoch, deadline=deadline)

    def _prepare(self, number: int) -> None:
        """On a runtime that starts attempts ahead (docker: the container's create and start;
        local: the interpreter's imports), make trial ``number``'s working copy and have the
        runtime prepare its first attempt while this trial trains. A trial that never comes
        wastes one start, nothing else. The copy is marked (``AHEAD``) rather than remembered:
        the baseline's stage prepares trial 1 for the tune stage's runner."""
        if not self.runtime.starts_ahead:
            return
        spec = self._spec_of(number, 1, {}, {})
        with self._ahead_lock:
            if spec.workdir.parent.exists():
                return  # prepared already, or started (another worker, an earlier controller)
            try:
                fresh_copy(self.setup.snapshot, spec.workdir)
                self.runtime.prepare(self.env, spec)
            except Exception as exc:  # noqa: BLE001 - the attempt will simply start cold
                log.warning("could not prepare trial %s ahead: %s", number, exc)
                return
            (spec.workdir.parent / AHEAD).write_text(spec.workdir.name)

    def _prepared(self, spec: TrialSpec) -> bool:
        """Whether ``spec``'s working copy was made ahead and never used (waits while it is
        being made); the mark goes, so a restarted attempt gets a fresh copy."""
        mark = spec.workdir.parent / AHEAD
        with self._ahead_lock:
            try:
                made = mark.read_text()
            except FileNotFoundError:
                return False
            mark.unlink()
        return spec.attempt == 1 and made == spec.workdir.name and spec.workdir.is_dir()

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
            self.recorder.end(trial.id, attempt_no, Outcome(OutcomeKind.STOPPED), [], reason)
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
                    self.recorder.fit(trial.number, raw)
                elif raw.get("type") == "recovered":
                    self.recorder.recovered(trial, attempt_no, raw)
            for ev in map(E.as_epoch, new):
                if ev is None or int(ev.get("epoch", 0)) <= recorded:
                    continue
                verdict = self.recorder.epoch(trial, attempt_no, ev, on_epoch)
                if verdict:
                    stopping = True
                    process.stop(verdict if isinstance(verdict, str) else "pruned")
            if outcome is not None:
                break
            if not stopping and _ended_ok(new) and process.release():
                outcome = Outcome(OutcomeKind.SUCCEEDED, exit_code=0)  # its exit: ``settle``
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
                self.recorder.recovered(trial, attempt_no, raw)
        for ev in map(E.as_epoch, new):
            if ev is not None and int(ev.get("epoch", 0)) > recorded:
                self.recorder.epoch(trial, attempt_no, ev, None)
        return outcome, events

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
            info={"seed": new_seed(self.setup, number)},
        )

    def _summary(self, a: Attempt) -> AttemptSummary:
        return AttemptSummary(
            OutcomeKind(a.outcome)
            if a.outcome in OutcomeKind._value2member_map_ and a.outcome != OutcomeKind.RUNNING
            else OutcomeKind.LOST,
            a.reason,
            None,
            a.last_epoch,
        )


def _ended_ok(events: list[dict[str, Any]]) -> bool:
    """Whether the agent wrote its ``end`` ok among ``events``: training and the outputs are
    done, and the process only has its interpreter's exit left."""
    return any(e.get("type") == "end" and e.get("status") == "ok" for e in events)
