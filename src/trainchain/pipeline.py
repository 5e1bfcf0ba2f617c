"""The chain: the declared stages, their order, and a run's state from queued to its status.

``Pipeline.execute(run_id)`` runs every stage not yet finished, recording each stage's result
before the next starts, so ``trainchain resume`` (or the next Jenkins job) continues a run from
its first unfinished stage and never repeats a finished trial. ``STAGES`` is the one declaration
the ``stage`` command and the Jenkins export are derived from.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from trainchain import interrupts
from trainchain.config import Config, override
from trainchain.errors import ConfigError, TargetNotReachedError, TrainchainError
from trainchain.notify.listener import NotifyListener
from trainchain.report import RunReport
from trainchain.runtimes.base import Runtime
from trainchain.stages import Stage, detect, fetch, monitor, promote, train, tune
from trainchain.stages.context import (
    Progress,
    RunListener,
    StageContext,
    StageSpec,
    config_overrides,
)
from trainchain.stages.promote import model_name
from trainchain.states import RunStatus, StageState
from trainchain.store import Store, utcnow
from trainchain.tracking.listener import TrackingListener

log = logging.getLogger(__name__)

EXIT_CODES = {RunStatus.SUCCEEDED: 0, RunStatus.TARGET_NOT_REACHED: 3, RunStatus.FAILED: 1}


# fmt: off
STAGES = (  #  stage        run          needs             docker target ends_run reads_trials
    StageSpec(Stage.FETCH,   fetch.run,   (),               False, False, False,  False),
    StageSpec(Stage.DETECT,  detect.run,  (Stage.FETCH,),   True,  False, False,  False),
    StageSpec(Stage.TRAIN,   train.run,   (Stage.DETECT,),  True,  False, False,  False),
    StageSpec(Stage.TUNE,    tune.run,    (Stage.TRAIN,),   True,  True,  False,  False),
    StageSpec(Stage.PROMOTE, promote.run, (Stage.TRAIN,),   False, True,  False,  True),
    StageSpec(Stage.MONITOR, monitor.run, (Stage.FETCH,),   True,  True,  True,   False),
)
# fmt: on
SPECS = {spec.stage: spec for spec in STAGES}


@dataclass
class RunOutcome:
    report: RunReport
    exit_code: int


class Pipeline:
    def __init__(
        self,
        store: Store | None = None,
        progress: Progress | None = None,
        runtime: Runtime | None = None,
        listeners: Sequence[RunListener] | None = None,
    ) -> None:
        self.store = store or Store()
        self.emit: Progress = progress or (lambda _event: None)
        self.runtime = runtime  # None: each run's configured runtime
        self._runtimes: dict[str, dict[str, Runtime]] = {}  # run id -> its stages' runtimes
        self.listeners = (NotifyListener(), TrackingListener()) if listeners is None else listeners

    def create_run(
        self,
        source: str,
        ref: str | None = None,
        options: dict[str, Any] | None = None,
        trigger: str = "cli",
        branch: str | None = None,
        project_id: int | None = None,
    ) -> str:
        """Record a queued run. ``options`` are the CLI's overrides of trainchain.yaml."""
        options = dict(options or {})
        override(Config(), **config_overrides(options))  # fail fast on bad flags, before any work
        fields = dict(source=source, ref=ref, branch=branch or ref, trigger=trigger)
        name = options.get("name") or model_name(source)
        return self.store.add_run(**fields, options=options, name=name, project_id=project_id)

    def execute(self, run_id: str, only: Stage | None = None) -> RunOutcome:
        """Run the unfinished stages (or just ``only``, for Jenkins' one-job-per-stage).

        Holds the run's controller lock throughout (``RunBusyError`` if another live process
        executes it), so ``trainchain revive`` knows a run whose lock is free has no controller.
        """
        from trainchain.reviver import controller_lock

        ctx = self.context(run_id)
        with controller_lock(ctx.run_dir):
            self._runtimes[run_id] = {}
            try:
                return self._execute(ctx.run.id, only)
            finally:
                self._close_runtimes(run_id)

    def _close_runtimes(self, run_id: str) -> None:
        """The run's stages are done: what its runtimes started ahead and nobody used goes."""
        for runtime in self._runtimes.pop(run_id, {}).values():
            try:
                runtime.close()
            except Exception:  # noqa: BLE001 - the run's outcome stands; the spare dies with us
                log.warning("closing the %s runtime failed", runtime.name, exc_info=True)

    def _settle(self, run_id: str) -> None:
        """Trials whose training ended while their interpreters still exit (the next trial
        went on meanwhile): wait for those exits, which flush what the scripts left open."""
        given = [self.runtime] if self.runtime is not None else []
        for runtime in [*given, *self._runtimes.get(run_id, {}).values()]:
            runtime.settle()

    def _execute(self, run_id: str, only: Stage | None) -> RunOutcome:
        for needed in SPECS[only].needs if only else ():
            if not self._finished(run_id, needed):
                raise ConfigError(
                    f"stage {only} needs {needed} first: `trainchain stage {needed} --run {run_id}`"
                )
        todo = [only] if only else [s.stage for s in STAGES if not self._finished(run_id, s.stage)]
        if not todo:  # nothing left: report the run as it ended, announce nothing again
            report = self.report(run_id)
            return RunOutcome(report, EXIT_CODES.get(RunStatus(report.status), 1))
        if self.store.get_run(run_id).status != RunStatus.RUNNING and only in (None, Stage.FETCH):
            self._start(run_id)
        for stage in todo:
            interrupts.check()
            error = self._run_stage(run_id, stage)
            if error is not None:
                return self._finish(run_id, RunStatus.FAILED, error.message, stage, error.exit_code)
        if only is None or SPECS[only].ends_run:
            reached = self.context(run_id).target_reached()
            status = RunStatus.SUCCEEDED if reached else RunStatus.TARGET_NOT_REACHED
            return self._finish(run_id, status)
        report = self.report(run_id)
        below = SPECS[only].reports_target and report.status != RunStatus.FAILED
        below = below and not self.context(run_id).target_reached()
        return RunOutcome(report, TargetNotReachedError.exit_code if below else 0)

    def _start(self, run_id: str) -> None:
        started = self.store.get_run(run_id).started_at or utcnow()
        cleared = {"error": None, "failed_stage": None}
        self.store.update_run(run_id, status=RunStatus.RUNNING.value, started_at=started, **cleared)
        for listener in self.listeners:
            listener.run_started(self.context(run_id))

    def _finished(self, run_id: str, stage: Stage) -> bool:
        row = self.store.stage(run_id, stage.value)
        return row is not None and row.state in (StageState.SUCCEEDED, StageState.SKIPPED)

    def _run_stage(self, run_id: str, stage: Stage) -> TrainchainError | None:
        """Run one stage and record how it ended; the error of a failed one."""
        if SPECS[stage].reads_trials:
            self._settle(run_id)
        self._record(run_id, stage, StageState.RUNNING)
        try:
            ctx = self.context(run_id)
            done = SPECS[stage].run(ctx)
            for listener in self.listeners:
                listener.stage_finished(ctx, stage, done)
        except TrainchainError as exc:
            self._record(run_id, stage, StageState.FAILED, error=exc.message)
            return exc
        except Exception as exc:  # the supervisor records every failure before re-raising
            detail = f"internal error in {stage.value}: {exc.__class__.__name__}: {exc}"
            error = detail + "\n" + traceback.format_exc()
            self._record(run_id, stage, StageState.FAILED, error=error)
            self._finish(run_id, RunStatus.FAILED, detail, stage, 1)
            raise
        self._record(run_id, stage, done.state, result=done.result)
        return None

    def _record(self, run_id: str, stage: Stage, state: StageState, **fields: Any) -> None:
        self.store.set_stage(run_id, stage.value, state.value, **fields)
        self.emit({"kind": "stage", "stage": stage.value, "state": state.value, **fields})

    def _finish(
        self,
        run_id: str,
        status: RunStatus,
        error: str | None = None,
        stage: Stage | None = None,
        exit_code: int | None = None,
    ) -> RunOutcome:
        ended = {"ended_at": utcnow(), "failed_stage": stage.value if stage else None}
        self.store.update_run(run_id, status=status.value, error=error, **ended)
        for listener in self.listeners:
            listener.run_finished(self.context(run_id), status.value)
        self.emit({"kind": "done", "status": status.value, "error": error})
        code = exit_code if exit_code is not None else EXIT_CODES[status]
        return RunOutcome(self.report(run_id), code)

    def context(self, run_id: str) -> StageContext:
        shared = self._runtimes.get(run_id)
        return StageContext(self.store.get_run(run_id), self.store, self.emit, self.runtime, shared)

    def report(self, run_id: str) -> RunReport:
        from trainchain.reporting import build_report

        return build_report(self.store, self.store.get_run(run_id))
