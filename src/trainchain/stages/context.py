"""What every stage gets and gives: one signature, ``run(StageContext) -> StageResult``.

The context is built from the run as the store holds it when the stage starts (the earlier
stages' results included), so a stage run alone (``trainchain stage NAME``, one Jenkins job)
sees exactly what it would see inside a whole run.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainchain import paths
from trainchain.agent import warm
from trainchain.config import Config
from trainchain.errors import ConfigError, TrainchainError
from trainchain.runtimes.base import Environment, Resources, Runtime
from trainchain.stages import Stage
from trainchain.states import StageState
from trainchain.store import Run, Store
from trainchain.trials.runner import TrialRunner, TrialSetup

log = logging.getLogger(__name__)
Progress = Callable[[dict[str, Any]], None]


@dataclass
class StageResult:
    """What a stage records: its end state and a JSON-able summary (shown by ``runs show``)."""

    result: dict[str, Any] = field(default_factory=dict)
    state: StageState = StageState.SUCCEEDED


class RunListener:
    """Told what the chain does (notifications, tracking export); never changes the order.

    ``stage_finished`` runs before the stage's result is recorded and may add keys to it. A
    listener records its own failures; an exception from one fails the stage like the stage's.
    """

    def run_started(self, ctx: StageContext) -> None:
        return None

    def stage_finished(self, ctx: StageContext, stage: Stage, result: StageResult) -> None:
        return None

    def run_finished(self, ctx: StageContext, status: str) -> None:
        return None


@dataclass(frozen=True)
class StageSpec:
    """A stage as the chain declares it (``pipeline.STAGES``); the ``stage`` command and the
    Jenkins export are derived from these."""

    stage: Stage
    run: Callable[[StageContext], StageResult]
    needs: tuple[Stage, ...] = ()  # stages whose results it reads (checked when run alone)
    needs_docker: bool = False  # builds images or runs trial containers (Jenkins agent label)
    reports_target: bool = False  # run alone, exits 3 while no trial reached the target
    ends_run: bool = False  # sets the run's final status
    reads_trials: bool = False  # copies trials' files: their processes' exits come first


class TrialError(TrainchainError):
    """A stage could not produce a usable trial (the message says why)."""


@dataclass
class StageContext:
    """The run a stage works on and its collaborators. ``runtime`` given = used for every
    stage (tests inject a scripted one); else the run's environment names it, made once for the
    run's stages when the pipeline shares ``runtimes`` (what one stage started ahead, the
    baseline's next trial, is the next stage's)."""

    run: Run
    store: Store
    emit: Progress
    given_runtime: Runtime | None = None
    runtimes: dict[str, Runtime] | None = None  # by name, shared by the run's stages

    @functools.cached_property
    def config(self) -> Config:
        return Config.model_validate(self.run.config or {})

    @property
    def detection(self) -> dict[str, Any]:
        return dict(self.run.detection or {})

    @functools.cached_property
    def runtime(self) -> Runtime:
        if self.given_runtime is not None:
            return self.given_runtime
        from trainchain.runtimes import get_runtime

        name = (self.run.environment or {}).get("runtime") or self.config.runtime
        if self.runtimes is None:
            return get_runtime(name)
        if name not in self.runtimes:
            self.runtimes[name] = get_runtime(name)
        return self.runtimes[name]

    @property
    def environment(self) -> Environment:
        fields = Environment.__dataclass_fields__
        return Environment(**{k: v for k, v in (self.run.environment or {}).items() if k in fields})

    @property
    def run_dir(self) -> Path:
        """On the run's own ``storage:`` when the operator set one."""
        return run_dir(self.run.id, paths.storage_of(self.run.options))

    @property
    def snapshot(self) -> Path:
        if not self.run.snapshot:
            raise ConfigError(
                "the run has no result from fetch yet; run `trainchain stage fetch` first"
            )
        return Path(self.run.snapshot)

    def result_of(self, stage: Stage) -> dict[str, Any]:
        """The recorded result of an earlier stage ({} when it has none)."""
        row = self.store.stage(self.run.id, stage.value)
        return dict((row.result or {}) if row else {})

    def target_reached(self) -> bool:
        """Whether a completed trial of the run reached the target."""
        from trainchain.trials import metrics as M

        goal = self.config.goal
        best = M.best_trial(self.store.trials(self.run.id), self.run.metric_name, goal)
        return best is not None and M.reaches(best.value, self.config.target, goal)

    def say(self, message: str) -> None:
        log.info(message)
        self.emit({"kind": "log", "message": message})

    def announce_plan(self) -> None:
        """The budget and target, for progress views (trial N of M, best against the target)."""
        config = self.config
        self.emit(
            {
                "kind": "plan",
                "metric": self.run.metric_name or config.metric,
                "goal": config.goal,
                "target": config.target,
                "max_trials": config.max_trials if config.tune else 1,
                "timeout": config.timeout,
            }
        )

    def trial_runner(self, metric: str, share: int = 1) -> TrialRunner:
        """Trials of this run on its environment; ``share`` parallel trials split the CPUs."""
        config, detection = self.config, self.detection
        data = {name: _data_path(name, path) for name, path in config.data.items()}
        for name, path in (detection.get("data_plan") or {}).items():
            # mapped by detection: a repository file (relative) or the dataset cache
            data.setdefault(name, Path(path))
        resources = functools.partial(
            Resources,
            config.resources.memory,
            gpus=config.resources.gpus,
            custom=dict(config.resources.custom),
        )
        # On a cluster each trial asks for its own CPUs: --parallel fills the nodes.
        ray = config.runtime == "ray"
        setup = TrialSetup(
            run_id=self.run.id,
            run_dir=self.run_dir,
            snapshot=self.snapshot,
            entrypoint=str(detection["entrypoint"]),
            args=tuple(config.args),
            data=data,
            metric=metric,
            goal=config.goal,
            trial_timeout=config.trial_timeout,
            stall_timeout=config.stall_timeout,
            max_restarts=config.max_restarts,
            resources=resources(
                config.resources.cpus if ray else _cpus(config.resources.cpus, share)
            ),
            datasets=paths.datasets_dir() if detection.get("downloads") else None,
            seed=config.seed,
            target=config.target,
            preload=tuple(warm.frameworks(detection.get("imports") or [])),
            tuned=config.tune,
            parallel=config.parallel if config.tune else 1,
            # the baseline runs alone; the trials it prepares share the CPUs as tuning will
            tuned_resources=resources(
                config.resources.cpus if ray else _cpus(config.resources.cpus, config.parallel)
            ),
        )
        return TrialRunner(self.store, self.runtime, self.environment, setup, self.emit)


def run_dir(run_id: str, storage: str | None = None) -> Path:
    return paths.run_dir(run_id, storage)


def split_params(config: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``params:`` of a stored config: (declared search dimensions, fixed baseline values)."""
    params = (config or {}).get("params") or {}
    declared = {k: v for k, v in params.items() if isinstance(v, dict)}
    return declared, {k: v for k, v in params.items() if k not in declared}


def config_overrides(options: dict[str, Any] | None) -> dict[str, Any]:
    """The run's CLI/API options that override trainchain.yaml keys."""
    return {k: v for k, v in (options or {}).items() if k in Config.model_fields}


def _cpus(configured: float | None, share: int) -> float | None:
    """CPUs per trial: as configured, else each of ``share`` parallel trials gets its part."""
    if configured or share <= 1:
        return configured
    return max(1.0, float(os.cpu_count() or 1) / share)


def _data_path(name: str, path: str) -> Path:
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise ConfigError(
            f"data {name}={path}: the path does not exist; "
            f"fix --data {name}=PATH or data: in trainchain.yaml"
        )
    from trainchain.runtimes.data_roots import check_data

    return check_data(name, resolved)
