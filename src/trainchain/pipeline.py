"""The chain: the only module that knows the order of the stages.

``Pipeline.execute(run_id)`` runs every stage not yet finished, recording each stage's result
before the next starts, so ``trainchain resume`` (or the next Jenkins job) continues a run from
its first unfinished stage and never repeats a finished trial.
"""

from __future__ import annotations

import logging
import os
import re
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trainchain import paths
from trainchain.config import SERVER_TRIGGERS, Config, load_config, override
from trainchain.errors import ConfigError, TrainchainError
from trainchain.extras import require
from trainchain.report import RunReport
from trainchain.reporting import curve
from trainchain.runtimes.base import Environment, Resources, Runtime
from trainchain.stages import ORDER, Stage
from trainchain.states import RunStatus, StageState
from trainchain.store import Notification, Run, Store, utcnow
from trainchain.trials.runner import TrialRunner, TrialSetup
from trainchain.urls import redact

log = logging.getLogger(__name__)
Progress = Callable[[dict[str, Any]], None]

EXIT_CODES = {
    RunStatus.SUCCEEDED.value: 0,
    RunStatus.TARGET_NOT_REACHED.value: 3,
    RunStatus.FAILED.value: 1,
}


@dataclass
class RunOutcome:
    report: RunReport
    exit_code: int


class StageFailed(Exception):
    def __init__(self, stage: Stage, error: str, exit_code: int) -> None:
        super().__init__(error)
        self.stage, self.error, self.exit_code = stage, error, exit_code


class Pipeline:
    def __init__(self, store: Store | None = None, progress: Progress | None = None) -> None:
        self.store = store or Store()
        self._progress = progress or (lambda _event: None)

    # -- runs --------------------------------------------------------------------------------
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
        override(Config(), **_config_keys(options))  # fail fast on bad flags, before any work
        with self.store.session() as s:
            run = Run(
                source=source,
                ref=ref,
                branch=branch or ref,
                options=options,
                trigger=trigger,
                name=options.get("name") or model_name(source),
                project_id=project_id,
            )
            s.add(run)
            s.flush()
            return run.id

    def execute(self, run_id: str, only: Stage | None = None) -> RunOutcome:
        """Run the unfinished stages (or just ``only``, for Jenkins' one-job-per-stage).

        Holds the run's controller lock throughout (``RunBusyError`` if another live process
        executes it), so ``trainchain monitor`` knows a run whose lock is free has no controller.
        """
        from trainchain.supervise import controller_lock

        run = self.store.get_run(run_id)
        with controller_lock(self.dir_of(run)):
            return self._execute(run, only)

    def _execute(self, run: Run, only: Stage | None) -> RunOutcome:
        stages = [only] if only else [stage for stage in ORDER if not self._finished(run.id, stage)]
        if not stages:  # nothing left: report the run as it ended, announce nothing again
            report = self.report(run.id)
            return RunOutcome(report, EXIT_CODES.get(report.status, 1))
        if run.status != RunStatus.RUNNING.value and only in (None, Stage.FETCH):
            self.store.update_run(
                run.id,
                status=RunStatus.RUNNING.value,
                started_at=run.started_at or utcnow(),
                error=None,
                failed_stage=None,
            )
            self._notify(run.id, "started")
        try:
            for stage in stages:
                self._run_stage(run.id, stage)
        except StageFailed as exc:
            return self._finish(run.id, RunStatus.FAILED, exc.error, exc.stage, exc.exit_code)
        if only not in (None, Stage.MONITOR):
            return RunOutcome(self.report(run.id), 0)
        return self._finish(run.id, None, None, None, None)

    def _finished(self, run_id: str, stage: Stage) -> bool:
        row = self.store.stage(run_id, stage.value)
        return row is not None and row.state in (
            StageState.SUCCEEDED.value,
            StageState.SKIPPED.value,
        )

    def _run_stage(self, run_id: str, stage: Stage) -> None:
        self.store.set_stage(run_id, stage.value, StageState.RUNNING.value)
        self._emit({"kind": "stage", "stage": stage.value, "state": "running"})
        try:
            state, result = getattr(self, f"_stage_{stage.value}")(self.store.get_run(run_id))
        except TrainchainError as exc:
            self._stage_failed(run_id, stage, exc.message)
            raise StageFailed(stage, exc.message, exc.exit_code) from exc
        except Exception as exc:  # the supervisor records every failure before re-raising
            detail = f"internal error in {stage.value}: {exc.__class__.__name__}: {exc}"
            self._stage_failed(run_id, stage, detail + "\n" + traceback.format_exc())
            self._finish(run_id, RunStatus.FAILED, detail, stage, 1)
            raise
        self.store.set_stage(run_id, stage.value, state.value, result=result)
        self._emit({"kind": "stage", "stage": stage.value, "state": state.value, "result": result})

    def _stage_failed(self, run_id: str, stage: Stage, message: str) -> None:
        self.store.set_stage(run_id, stage.value, StageState.FAILED.value, error=message)
        self._emit({"kind": "stage", "stage": stage.value, "state": "failed", "error": message})

    # -- stages ------------------------------------------------------------------------------
    def _stage_fetch(self, run: Run) -> tuple[StageState, dict[str, Any]]:
        from trainchain.stages.fetch import fetch

        result = fetch(run.source, run.ref, self.dir_of(run) / "source")
        shown = (
            str(Path(run.source) / "trainchain.yaml")
            if Path(run.source).is_dir()
            else f"trainchain.yaml of {redact(run.source)} at {(result.commit or '')[:12]}"
        )
        # a run the server started trains pushed code: its trainchain.yaml only tunes
        repository = run.trigger in SERVER_TRIGGERS
        config = override(
            load_config(Path(result.snapshot), shown, repository=repository),
            **_config_keys(run.options),
        )
        if config.tracking.enabled:  # before any training: a missing MLflow must not cost a run
            require("mlflow", "tracking.mlflow_uri (the export to MLflow)")
        self.store.update_run(
            run.id,
            snapshot=result.snapshot,
            commit=result.commit,
            branch=run.branch or result.branch,
            config=config.model_dump(mode="json"),
            name=config.name or run.name,
        )
        self._say(f"fetched {redact(run.source)} at {result.commit or 'working tree'}")
        return StageState.SUCCEEDED, asdict(result)

    def _stage_detect(self, run: Run) -> tuple[StageState, dict[str, Any]]:
        from trainchain.runtimes import get_runtime
        from trainchain.space import describe
        from trainchain.stages.detect import detect_project
        from trainchain.stages.inputs import plan_inputs

        config = self.config(run)
        declared, fixed = split_params(run.config)
        found = detect_project(
            Path(_need(run.snapshot, "fetch")),
            config.entrypoint,
            config.profile,
            declared,
            source=run.source,
            fixed=fixed,
            from_cli=set((run.options or {}).get("params") or {}),
        )
        runtime = get_runtime(config.runtime)
        # before any build: a missing input or a download that cannot happen stops the run
        # here; a known dataset is prefetched into the machine's cache
        plan = plan_inputs(
            found.detection,
            config.data,
            paths.datasets_dir(),
            trials_online=runtime.trials_online,
            say=self._say,
        )
        for note in plan.notes:
            self._say(note)
        env = runtime.provision(
            found.env_spec, lambda line: self._emit({"kind": "build", "line": line})
        )
        self.store.update_run(
            run.id,
            profile=found.profile,
            detection={
                **found.detection,
                "space": found.space,
                "env_packages": list(found.env_spec.packages),
                "project_requirements": list(found.env_spec.project_requirements),
                "data_plan": plan.data,
            },
            environment={**asdict(env), "profile": found.profile},
        )
        self._say(
            f"profile {found.profile}, entrypoint {found.entrypoint}, environment {env.key} "
            f"({'built' if env.created else 'reused'} on {runtime.name})"
        )
        for name, spec in found.space.items():
            self._say(f"search space: {name} {describe(spec)} — {spec.get('why') or 'declared'}")
        return StageState.SUCCEEDED, {
            "profile": found.profile,
            "entrypoint": found.entrypoint,
            "environment": env.key,
            "created": env.created,
        }

    def _stage_train(self, run: Run) -> tuple[StageState, dict[str, Any]]:
        from trainchain.agent import FULL_PASS_STEPS
        from trainchain.stages.train import plan_baseline, train_baseline

        config = self.config(run)
        _, fixed = split_params(run.config)
        plan = plan_baseline(run.detection.get("parameters") or [], fixed)
        for name, value in plan.inferred.items():
            shown = (
                "one full pass over the training input"
                if value == FULL_PASS_STEPS
                else (repr(value))
            )
            self._say(f"baseline: {name} has no default; using {shown} (set --param {name}=VALUE)")
        self._announce_plan(run, config)
        result = train_baseline(self._runner(run, config, config.metric), plan)
        if result.value is None:
            raise _TrialError(result.error or f"baseline trial ended {result.state.value}")
        self.store.update_run(run.id, metric_name=result.metric_name)
        return StageState.SUCCEEDED, {
            "trial": 0,
            "value": result.value,
            "metric": result.metric_name,
            "source": result.metric_source,
            "inferred": plan.inferred,
            "params": plan.params,
        }

    def _stage_tune(self, run: Run) -> tuple[StageState, dict[str, Any]]:
        from trainchain.space import resolve_space
        from trainchain.stages import tune as T
        from trainchain.trials import metrics as M

        config = self.config(run)
        baseline = self.store.trial(run.id, 0)
        assert baseline is not None
        if M.reaches(baseline.value, config.target, config.goal):
            return StageState.SKIPPED, {
                "reason": f"the baseline reached the target ({baseline.value:.4f})"
            }
        if not config.tune:
            return StageState.SKIPPED, {"reason": "tuning disabled (--no-tune)"}
        train = self.store.stage(run.id, Stage.TRAIN.value)
        fixed = dict((train.result or {}).get("params") or {}) if train else {}
        metric = run.metric_name or config.metric
        space, notes = resolve_space(run.detection.get("space") or {}, self._data_sizes(run))
        for note in notes:
            self._say(f"search space: {note}")
        settings = T.SearchSettings(
            study_name=f"trainchain-{run.id}",
            storage_url=self.store.url,
            space=space,
            metric=metric,
            goal=config.goal,
            target=config.target,
            sampler=config.sampler,
            pruner=config.pruner,
            seed=config.seed,
            warm_start=self._warm_start(run),
            fixed=fixed,
        )
        budget = T.Budget(config.max_trials, config.timeout, config.max_epochs_total)
        self._announce_plan(run, config)
        runner = self._runner(run, config, metric, share=config.parallel)
        done = [runner.run(0, baseline.params)]
        result = T.tune(runner, settings, budget, done, first_number=1, parallel=config.parallel)
        self._say(f"tuning stopped: {result.stop_reason}")
        return StageState.SUCCEEDED, {
            "trials": len(result.trials),
            "reached": result.reached,
            "stop_reason": result.stop_reason,
        }

    def _data_sizes(self, run: Run) -> dict[str, Any] | None:
        """The sizes of the training input the baseline saw (its agent's first ``data`` event
        with a known length; the latest attempt first), or None."""
        from trainchain.agent.events import read_events
        from trainchain.trials.workspace import trial_dirs

        root = trial_dirs(self.dir_of(run), 0).root
        files = sorted(root.glob("events-*.jsonl"), key=lambda p: int(p.stem.split("-")[1]))
        for path in reversed(files):
            events, _ = read_events(str(path))
            for event in events:
                if event.get("type") == "data" and event.get("train_batches"):
                    return event
        return None

    def _stage_promote(self, run: Run) -> tuple[StageState, dict[str, Any]]:
        from trainchain.stages.promote import Candidate, register
        from trainchain.trials import metrics as M
        from trainchain.trials.workspace import trial_dirs

        config = self.config(run)
        best = M.best_trial(self.store.trials(run.id), run.metric_name, config.goal)
        if best is None:
            raise _TrialError("no trial completed with a metric; nothing to register")
        assert best.value is not None and best.metric_name is not None
        candidate = Candidate(
            run_id=run.id,
            trial=best.number,
            value=best.value,
            metric_name=best.metric_name,
            goal=config.goal,
            params=best.params,
            metrics=best.metrics,
            curves=curve(best),
            model_path=best.model_path,
            output_dir=trial_dirs(self.dir_of(run), best.number).output,
            commit=run.commit,
            branch=run.branch,
            profile=run.profile,
            data=config.data,
        )
        result = register(self.store, run.name, candidate, paths.models_dir())
        self.store.update_run(
            run.id, model_version=result.version, became_champion=result.became_champion
        )
        self._say(f"registered {result.name} v{result.version}: {result.reason}")
        return StageState.SUCCEEDED, {**asdict(result), "tracking": self._export(run, config)}

    def _export(self, run: Run, config: Config) -> dict[str, Any] | None:
        """MLflow export when configured; a failure is recorded, never fails a trained run."""
        if not config.tracking.enabled:
            return None
        from trainchain.tracking import export_run

        try:
            exported = export_run(self.store, run.id, config.tracking)
        except TrainchainError as exc:
            self._say(f"MLflow export failed: {exc.message}")
            return {"ok": False, "error": exc.message}
        self._say(
            f"exported to MLflow experiment {exported.experiment} ({len(exported.runs)} runs)"
        )
        return {
            "ok": True,
            "experiment": exported.experiment,
            "model_version": exported.model_version,
        }

    def _stage_monitor(self, run: Run) -> tuple[StageState, dict[str, Any]]:
        from trainchain.stages.monitor import monitor

        runtime = self._runtime(run) if run.environment else None
        return StageState.SUCCEEDED, monitor(self.store, run.id, runtime).to_dict()

    # -- helpers -----------------------------------------------------------------------------
    def config(self, run: Run) -> Config:
        return Config.model_validate(run.config)

    def run_dir(self, run_id: str, storage: str | None = None) -> Path:
        """``storage``: the run's own ``storage:`` setting (``paths.storage_of``), if any."""
        return paths.run_dir(run_id, storage)

    def dir_of(self, run: Run) -> Path:
        """The run's directory, on its own ``storage:`` when the operator set one."""
        return paths.run_dir(run.id, paths.storage_of(run.options))

    def _runtime(self, run: Run) -> Runtime:
        from trainchain.runtimes import get_runtime

        return get_runtime(run.environment.get("runtime", "local"))

    def _runner(self, run: Run, config: Config, metric: str, share: int = 1) -> TrialRunner:
        env_fields = {
            k: v for k, v in run.environment.items() if k in Environment.__dataclass_fields__
        }
        data = {name: _data_path(name, path) for name, path in config.data.items()}
        for name, path in (run.detection.get("data_plan") or {}).items():
            # mapped by detection: a repository file (relative) or the dataset cache
            data.setdefault(name, Path(path))
        setup = TrialSetup(
            run_id=run.id,
            run_dir=self.dir_of(run),
            snapshot=Path(_need(run.snapshot, "fetch")),
            entrypoint=str(run.detection["entrypoint"]),
            args=tuple(config.args),
            data=data,
            metric=metric,
            goal=config.goal,
            trial_timeout=config.trial_timeout,
            stall_timeout=config.stall_timeout,
            max_restarts=config.max_restarts,
            resources=Resources(
                config.resources.memory,
                # On a cluster each trial asks for its own CPUs: --parallel fills the nodes.
                config.resources.cpus
                if config.runtime == "ray"
                else _cpus(config.resources.cpus, share),
                gpus=config.resources.gpus,
                custom=dict(config.resources.custom),
            ),
            datasets=paths.datasets_dir() if run.detection.get("downloads") else None,
            seed=config.seed,
            target=config.target,
        )
        return TrialRunner(
            self.store, self._runtime(run), Environment(**env_fields), setup, self._emit
        )

    def _announce_plan(self, run: Run, config: Config) -> None:
        """The budget and target, for progress views (trial N of M, best against the target)."""
        self._emit(
            {
                "kind": "plan",
                "metric": run.metric_name or config.metric,
                "goal": config.goal,
                "target": config.target,
                "max_trials": config.max_trials if config.tune else 1,
                "timeout": config.timeout,
            }
        )

    def _warm_start(self, run: Run) -> list[dict[str, Any]]:
        """The best parameters of earlier runs of this model and branch, best first."""
        config = self.config(run)
        versions = [
            v
            for v in self.store.model_versions(run.name)
            if v.branch == run.branch and v.run_id != run.id and v.metric_name == run.metric_name
        ]
        versions.sort(key=lambda v: v.value, reverse=config.goal == "maximize")
        return [dict(v.params) for v in versions[:2]]

    def _finish(
        self,
        run_id: str,
        status: RunStatus | None,
        error: str | None,
        stage: Stage | None,
        exit_code: int | None,
    ) -> RunOutcome:
        from trainchain.trials import metrics as M

        run = self.store.get_run(run_id)
        if status is None:
            config = self.config(run)
            best = M.best_trial(self.store.trials(run_id), run.metric_name, config.goal)
            reached = best is not None and M.reaches(best.value, config.target, config.goal)
            status = RunStatus.SUCCEEDED if reached else RunStatus.TARGET_NOT_REACHED
        self.store.update_run(
            run_id,
            status=status.value,
            error=error,
            failed_stage=stage.value if stage else None,
            ended_at=utcnow(),
        )
        self._notify(run_id, status.value)
        code = exit_code if exit_code is not None else EXIT_CODES[status.value]
        self._emit({"kind": "done", "status": status.value, "error": error})
        return RunOutcome(self.report(run_id), code)

    def report(self, run_id: str) -> RunReport:
        from trainchain.reporting import build_report

        return build_report(self.store, self.store.get_run(run_id))

    def _notify(self, run_id: str, event: str) -> None:
        run = self.store.get_run(run_id)
        channels = (run.config or {}).get("notify") or []
        if not channels:
            return
        from trainchain.notify.base import dispatch
        from trainchain.notify.config import parse_notify

        # Short timeouts: an unreachable channel must not hold the end of a run for long.
        results = dispatch(event, self.report(run_id), parse_notify(channels), retries=2, timeout=5)
        with self.store.session() as s:
            for r in results:
                s.add(
                    Notification(
                        run_id=run_id,
                        channel=r.channel,
                        event=r.event,
                        ok=r.ok,
                        attempts=r.attempts,
                        error=r.error,
                        detail=r.detail,
                    )
                )  # no secrets in r
        for r in results:
            self._say(
                f"notify {r.channel} {r.event}: {'sent' if r.ok else 'FAILED: ' + (r.error or '')}"
            )

    def _emit(self, event: dict[str, Any]) -> None:
        self._progress(event)

    def _say(self, message: str) -> None:
        log.info(message)
        self._emit({"kind": "log", "message": message})


class _TrialError(TrainchainError):
    """A stage could not produce a usable trial (the message says why)."""


def split_params(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``params:`` of a stored config: (declared search dimensions, fixed baseline values)."""
    params = config.get("params") or {}
    declared = {k: v for k, v in params.items() if isinstance(v, dict)}
    return declared, {k: v for k, v in params.items() if k not in declared}


def _config_keys(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in Config.model_fields}


def _cpus(configured: float | None, share: int) -> float | None:
    """CPUs per trial: as configured, else each of ``share`` parallel trials gets its part."""
    if configured or share <= 1:
        return configured
    return max(1.0, float(os.cpu_count() or 1) / share)


def _need(value: str | None, stage: str) -> str:
    if not value:
        raise ConfigError(
            f"the run has no result from {stage} yet; run `trainchain stage {stage}` first"
        )
    return value


def _data_path(name: str, path: str) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise ConfigError(
            f"data {name}={path}: the path does not exist; "
            f"fix --data {name}=PATH or data: in trainchain.yaml"
        )
    from trainchain.runtimes.data_roots import check_data

    return check_data(name, resolved)


def model_name(source: str) -> str:
    """The registry name a source gets by default: its last path part, made a safe name."""
    base = source.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
    if base in ("", ".", ".."):
        base = Path(source).resolve().name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-_")[:100].replace("..", ".")
    return safe or "model"
