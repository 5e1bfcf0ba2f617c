"""job4 — tune: below the target, search parameters and architecture with Optuna (ask/tell).

The study lives in trainchain's database, so a resumed run continues the same study; the
previous runs' best parameters are tried first (warm start); a trial that reaches the target
ends the search; pruned trials are stopped live from their epoch metrics.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from trainchain.stages import Stage
from trainchain.stages.context import StageContext, StageResult
from trainchain.states import StageState, TrialState
from trainchain.trials import metrics as M
from trainchain.trials import optuna_compat
from trainchain.trials.runner import Deadline, TrialResult, TrialRunner

if TYPE_CHECKING:
    import optuna

    from trainchain.tuning.budget import Budget

log = logging.getLogger(__name__)
MAX_DUPLICATE_ASKS = 50  # a tiny space can be exhausted; stop asking after this many repeats


@dataclass(frozen=True)
class SearchSettings:
    study_name: str
    storage_url: str
    space: dict[str, dict[str, Any]]
    metric: str
    goal: str
    target: float
    sampler: str = "tpe"
    pruner: str = "asha"
    seed: int | None = None
    n_startup_trials: int = 4  # TPE's random start-up trials (``tuning.startup_trials``)
    parallel: int = 1  # trials asked for at once (TPE then lies about the running ones)
    warm_start: list[dict[str, Any]] = field(default_factory=list)  # params to try first
    fixed: dict[str, Any] = field(default_factory=dict)  # always passed (prompt answers...)
    # each dimension's value in the baseline (``tuning.written``): told to the study as its
    # first complete point; empty: the baseline is a rung competitor only
    written: dict[str, Any] = field(default_factory=dict)


@dataclass
class TuneResult:
    trials: list[TrialResult]
    reached: bool
    stop_reason: str


def tune(
    runner: TrialRunner,
    settings: SearchSettings,
    budget: Budget,
    done: list[TrialResult],
    first_number: int,
    parallel: int = 1,
) -> TuneResult:
    """Run trials numbered from ``first_number`` until the target or the budget.

    ``parallel`` workers ask, train and tell at once; in-flight trials count against the
    budget, so ``max_trials`` is never exceeded. Trials already recorded (a resumed run) are
    taken first: finished ones are not rerun, an interrupted one resumes from its checkpoint.
    """
    import optuna

    from trainchain import tuning

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    baseline = runner.store.trial(runner.setup.run_id, 0)
    space, pinned = settings.space, dict[str, int]()
    if settings.pruner in tuning.budget.MULTI_FIDELITY:
        space, pinned = tuning.pin_epochs(space)
    settings = replace(
        settings,
        space=space,
        fixed={**settings.fixed, **pinned},
        n_startup_trials=tuning.startup_trials(budget.max_trials),
        parallel=parallel,
    )
    resource = tuning.epoch_resource(pinned, len(baseline.epochs) if baseline else 0)
    pruner = tuning.make_pruner(settings.pruner, resource, _chance(baseline, settings.metric))
    log.info("tuning: epochs pinned %s, resource %s epochs, %s", pinned, resource, settings.pruner)
    study = _study(optuna, settings, pruner)
    distributions = tuning.sampling.to_distributions(settings.space)
    if not distributions:
        return TuneResult([], False, "nothing to tune: no parameters were found or declared")
    if not study.trials:  # a new study (a resumed one has its history)
        _first_points(runner, study, settings, distributions, baseline)
    search = _Search(runner, settings, budget, done, study, distributions, optuna, pruner)
    search.pinned = pinned
    search.pending = [
        t.number for t in runner.store.trials(runner.setup.run_id) if t.number >= first_number
    ]
    search.next_number = max([first_number - 1, *search.pending]) + 1
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="trial") as pool:
        for future in [pool.submit(search.work) for _ in range(parallel)]:
            future.result()
    results = sorted(search.results, key=lambda r: r.number)
    reached = any(
        M.reaches(r.value, settings.target, settings.goal) and r.state == TrialState.COMPLETE
        for r in results
    )
    return TuneResult(results, reached, search.stop or "done")


class _Search:
    """Shared state of the workers; every decision is taken under ``lock``."""

    def __init__(
        self,
        runner: TrialRunner,
        settings: SearchSettings,
        budget: Budget,
        done: list[TrialResult],
        study: optuna.Study,
        distributions: dict[str, optuna.distributions.BaseDistribution],
        optuna: Any,  # the module, imported when a search starts
        pruner: optuna.pruners.BasePruner,
    ) -> None:
        self.runner, self.settings, self.budget, self.done = runner, settings, budget, done
        self.study, self.distributions, self.optuna = study, distributions, optuna
        self.pruner = pruner
        self.lock = threading.Lock()
        self.results: list[TrialResult] = []
        self.seen = {_key(r.params) for r in done}
        self.pending: list[int] = []
        self.pinned: dict[str, int] = {}  # epoch parameters pinned to their top (the resource)
        self.continued = False
        self.next_number = 0
        self.in_flight = 0
        self.duplicates = 0
        self.stop: str | None = None
        self.started = time.monotonic()

    def work(self) -> None:
        while True:
            with self.lock:
                job = self._next()
                if job is None:
                    return
                number, trial, params = job
                self.in_flight += 1
            try:
                hook = _pruning_hook(trial, self.settings, self.pruner)
                result = self.runner.run(
                    number, params, hook, optuna_number=trial.number, deadline=self._deadline()
                )
            finally:
                with self.lock:
                    self.in_flight -= 1
            with self.lock:
                _record_probe(self.runner, trial, result.number)
                _tell(self.optuna, self.study, trial, result)
                self.results.append(result)
                if result.state == TrialState.COMPLETE and M.reaches(
                    result.value, self.settings.target, self.settings.goal
                ):
                    self.stop = self.stop or f"trial {result.number} reached the target"

    def _deadline(self) -> Deadline | None:
        """The wall-time budget ends running trials too (they keep their best epoch), as Ray
        Tune's ``time_budget_s`` does; Optuna's ``optimize(timeout=)`` lets a running trial
        finish, which overran a cat/dog budget by 15 minutes."""
        if self.budget.timeout is None:
            return None
        budget = f"the tuning budget (--timeout {self.budget.timeout:g}s)"
        return Deadline(self.started + self.budget.timeout, budget)

    def _next(self) -> tuple[int, Any, dict[str, Any]] | None:
        from trainchain import tuning

        if self.stop:
            return None
        finished = self.done + self.results
        self.stop = tuning.budget.budget_spent(
            self.budget,
            len(finished) + self.in_flight,
            sum(r.epochs for r in finished),
            time.monotonic() - self.started,
        )
        if self.stop:
            return None
        if self.pending:
            number = self.pending.pop(0)
            row = self.runner.store.trial(self.runner.setup.run_id, number)
            if row is not None and row.optuna_number is not None:
                trial = self.optuna.trial.Trial(
                    self.study, _trial_id(self.study, row.optuna_number)
                )
                self.seen.add(_key(row.params))
                return number, trial, dict(row.params)
        if len(finished) + self.in_flight == self.budget.max_trials - 1 and not self.continued:
            job = self._continue_best(finished)
            if job is not None:
                return job
        while True:
            if self.settings.seed is not None:
                # A sampler seeded per ask: a resumed search asks what an uninterrupted one would.
                seed = self.settings.seed + 1000 * self.next_number + self.duplicates
                self.study.sampler = _sampler(replace(self.settings, seed=seed))
            trial = self.study.ask(self.distributions)
            params = {**self.settings.fixed, **trial.params}
            if _key(params) not in self.seen:
                break
            earlier = next(
                (r for r in self.done + self.results if _key(r.params) == _key(params)), None
            )
            if earlier is not None and earlier.value is not None:
                _told(self.study, trial, earlier.value)  # the sampler learns; nothing retrained
            else:
                _told(self.study, trial, state=self.optuna.trial.TrialState.FAIL)
            self.duplicates += 1
            if self.duplicates > MAX_DUPLICATE_ASKS:
                self.stop = "the search space is exhausted"
                return None
        self.seen.add(_key(params))
        number = self.next_number
        self.next_number += 1
        return number, trial, params

    def _continue_best(self, finished: list[TrialResult]) -> tuple[int, Any, dict[str, Any]] | None:
        """The last trial of the budget: the best trial, still improving at its last epoch,
        trained on from its checkpoint with twice the epochs (``tuning.continuation``)."""
        from trainchain.tuning import continuation

        self.continued = True
        complete = [
            r
            for r in finished
            if r.state == TrialState.COMPLETE and r.number > 0 and r.value is not None
        ]
        if not complete:
            return None
        pick = max if self.settings.goal == "maximize" else min
        result = pick(complete, key=lambda r: float(r.value or 0.0))
        row = self.runner.store.trial(self.runner.setup.run_id, result.number)
        params = continuation.continued_params(result.params, self.pinned)
        if row is None or params is None or _key(params) in self.seen:
            return None
        if not continuation.still_improving(row.info or {}, result.epochs):
            return None
        if self.study.get_trials(deepcopy=False, states=(self.optuna.trial.TrialState.WAITING,)):
            return None  # warm-start trials still queued: ask would hand out one of them
        self.study.enqueue_trial({k: v for k, v in params.items() if k in self.distributions})
        trial = self.study.ask(self.distributions)
        number = self.next_number
        self.next_number += 1
        self.seen.add(_key(params))
        continuation.copy_checkpoints(self.runner.setup.run_dir, result.number, number)
        message = (
            f"trial {number} continues trial {result.number} (still improving at its last "
            f"epoch {result.epochs}) from its checkpoint: "
            + ", ".join(f"{k} {result.params[k]} -> {params[k]}" for k in self.pinned)
        )
        log.info(message)
        self.runner.progress({"kind": "log", "message": message})
        return number, trial, params


def _first_points(
    runner: TrialRunner,
    study: optuna.Study,
    settings: SearchSettings,
    distributions: dict[str, Any],
    baseline: Any,
) -> None:
    """What a new study starts from: the baseline (its curve in the rungs and, when every
    dimension has an as-written value, a complete observation recorded on the trial as
    ``as_written``), the earlier runs' best (warm start) and, after a baseline that overfits,
    the regularised probe (``tuning.diagnosis``). A grid sampler gets the warm start only:
    it expects a grid point in every trial."""
    from trainchain import tuning

    grid = settings.sampler == "grid"
    point, missing = tuning.baseline_point(distributions, settings.written)
    if not grid:
        curve = _curve(baseline, settings) if baseline else []
        complete = bool(settings.written) and not missing and baseline is not None
        done = baseline is not None and baseline.state == TrialState.COMPLETE.value
        value = baseline.value if complete and done else None
        if complete and value is not None:
            info = {**(baseline.info or {}), "as_written": point}
            runner.store.update_trial(baseline.id, info=info)
            log.info("tuning: the baseline is the study's first point: %s", point)
        elif settings.written:
            log.info("tuning: the baseline is a rung competitor only: no as-written %s", missing)
        tuning.report_baseline(study, curve, point, distributions, value)
    _warm_start(study, settings, distributions)
    if grid or baseline is None or baseline.state != TrialState.COMPLETE.value:
        return
    epochs = [e.metrics or {} for e in sorted(baseline.epochs, key=lambda e: e.epoch)]
    message = tuning.diagnosis.queue_probe(
        study, distributions, epochs, point, _hook_metric(settings), settings.goal
    )
    if message:
        log.info("tuning: %s", message)
        runner.progress({"kind": "log", "message": message})


def _record_probe(runner: TrialRunner, trial: optuna.Trial, number: int) -> None:
    """A planned probe's reason on its trial's record (``runs show``, the JSON report)."""
    from trainchain.tuning.diagnosis import PROBE_ATTR

    why = trial.user_attrs.get(PROBE_ATTR)
    row = runner.store.trial(runner.setup.run_id, number) if why else None
    if row is not None:
        info = {**(row.info or {}), "probe": f"regularised first: the baseline overfits ({why})"}
        runner.store.update_trial(row.id, info=info)


def _chance(baseline: Any, metric: str) -> float | None:
    """The accuracy of always answering the largest class, from the baseline's ``classes``
    event; None for other metrics or when the agent could not tell."""
    from trainchain.tuning.pruners import CHANCE_METRICS

    if baseline is None or M._base(metric) not in CHANCE_METRICS | {"auto"}:
        return None
    chance = ((baseline.info or {}).get("classes") or {}).get("chance")
    return float(chance) if isinstance(chance, int | float) else None


def _study(
    optuna: Any, settings: SearchSettings, pruner: optuna.pruners.BasePruner
) -> Any:  # an optuna.Study
    storage = optuna.storages.RDBStorage(
        settings.storage_url,
        engine_kwargs={"connect_args": {"timeout": 30}}
        if settings.storage_url.startswith("sqlite")
        else {},
    )
    return optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        load_if_exists=True,
        direction=settings.goal,
        sampler=_sampler(settings),
        pruner=pruner,
    )


def _sampler(settings: SearchSettings) -> Any:  # an optuna BaseSampler
    from trainchain.tuning.sampling import make_sampler

    return make_sampler(
        settings.sampler,
        settings.seed,
        settings.space,
        settings.n_startup_trials,
        parallel=settings.parallel,
    )


def _warm_start(
    study: optuna.Study,
    settings: SearchSettings,
    distributions: dict[str, optuna.distributions.BaseDistribution],
) -> None:
    for params in settings.warm_start:
        fitting = {
            k: v
            for k, v in params.items()
            if k in distributions and optuna_compat.distribution_contains(distributions[k], v)
        }
        if fitting:
            study.enqueue_trial(fitting, skip_if_exists=True)


def _curve(trial: Any, settings: SearchSettings) -> list[tuple[int, float]]:
    """(epoch, value) of a recorded trial, as the pruning hook reports them."""
    name = _hook_metric(settings)
    found = [(e.epoch, M.epoch_value(e.metrics or {}, name)) for e in trial.epochs]
    return sorted({epoch: v for epoch, v in found if v is not None}.items())


def _hook_metric(settings: SearchSettings) -> str:
    if settings.metric != "auto":
        return settings.metric
    return "accuracy" if settings.goal == "maximize" else "loss"


def _pruning_hook(
    trial: optuna.Trial, settings: SearchSettings, pruner: optuna.pruners.BasePruner
) -> Callable[[int, dict[str, float]], str | None]:
    name = _hook_metric(settings)

    def hook(epoch: int, metrics: dict[str, float]) -> str | None:
        for key in ("val_loss", "loss"):  # NaN/inf loss: the weights are gone
            if key in metrics and not math.isfinite(metrics[key]):
                return f"diverged: {key} is {metrics[key]} at epoch {epoch}"
        value = M.epoch_value(metrics, name)
        if value is None:  # NaN/inf are reported too: the guard stops a diverged trial
            value = next((metrics[k] for k in (f"val_{M._base(name)}", name) if k in metrics), None)
        if value is None:
            return None
        trial.report(value, epoch)
        if not trial.should_prune():
            return None
        return str(pruner.reason(trial.number)) if hasattr(pruner, "reason") else "pruned"

    return hook


def _tell(optuna: Any, study: optuna.Study, trial: optuna.Trial, result: TrialResult) -> None:
    states = optuna.trial.TrialState
    if result.state == TrialState.COMPLETE and result.value is not None:
        _told(study, trial, result.value, skip_if_finished=True)
    elif result.state == TrialState.PRUNED:
        _told(study, trial, state=states.PRUNED, skip_if_finished=True)
    else:
        _told(study, trial, state=states.FAIL, skip_if_finished=True)


def _told(study: optuna.Study, trial: optuna.Trial, *args: Any, **kwargs: Any) -> None:
    optuna_compat.tell_as_in_optimize(study, trial, *args, **kwargs)


def _trial_id(study: optuna.Study, number: int) -> int:
    return optuna_compat.trial_id(study, number)


def _key(params: dict[str, Any]) -> str:
    import json

    return json.dumps(params, sort_keys=True, default=str)


# -- the stage -------------------------------------------------------------------------------
def run(ctx: StageContext) -> StageResult:
    """Skip when the baseline reached the target (or tuning is off), else search."""
    from trainchain import tuning
    from trainchain.space import resolve_space

    config, run_ = ctx.config, ctx.run
    baseline = ctx.store.trial(run_.id, 0)
    assert baseline is not None
    if M.reaches(baseline.value, config.target, config.goal):
        reason = f"the baseline reached the target ({baseline.value:.4f})"
        return StageResult({"reason": reason}, StageState.SKIPPED)
    if not config.tune:
        return StageResult({"reason": "tuning disabled (--no-tune)"}, StageState.SKIPPED)
    fixed = dict(ctx.result_of(Stage.TRAIN).get("params") or {})
    metric = run_.metric_name or config.metric
    sizes = tuning.written.baseline_data_sizes(ctx.run_dir)
    space, notes = resolve_space(ctx.detection.get("space") or {}, sizes)
    facts = tuning.baseline_facts(ctx.run_dir)
    dropped = tuning.inapplicable_knobs(space, facts)
    for name, why in dropped.items():
        space.pop(name)
        notes.append(f"{name} is not searched: {why}")
    if dropped:
        ctx.store.update_trial(baseline.id, info={**(baseline.info or {}), "not_searched": dropped})
    for note in notes:
        ctx.say(f"search space: {note}")
    written = tuning.written.written_values(
        ctx.detection.get("parameters") or [], dict(baseline.params), facts
    )
    settings = SearchSettings(
        study_name=f"trainchain-{run_.id}",
        storage_url=ctx.store.url,
        space=space,
        metric=metric,
        goal=config.goal,
        target=config.target,
        sampler=config.sampler,
        pruner=config.pruner,
        seed=config.seed,
        warm_start=warm_start_params(ctx),
        fixed=fixed,
        written=written,
    )
    budget = tuning.budget.Budget(config.max_trials, config.timeout, config.max_epochs_total)
    ctx.announce_plan()
    runner = ctx.trial_runner(metric, share=config.parallel)
    done = [runner.run(0, baseline.params)]
    result = tune(runner, settings, budget, done, first_number=1, parallel=config.parallel)
    ctx.say(f"tuning stopped: {result.stop_reason}")
    return StageResult(
        {"trials": len(result.trials), "reached": result.reached, "stop_reason": result.stop_reason}
    )


def warm_start_params(ctx: StageContext) -> list[dict[str, Any]]:
    """The best parameters of earlier runs of this model and branch, best first."""
    run_ = ctx.run
    versions = [
        v
        for v in ctx.store.model_versions(run_.name)
        if v.branch == run_.branch and v.run_id != run_.id and v.metric_name == run_.metric_name
    ]
    versions.sort(key=lambda v: v.value, reverse=ctx.config.goal == "maximize")
    return [dict(v.params) for v in versions[:2]]
