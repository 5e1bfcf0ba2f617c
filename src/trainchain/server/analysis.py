"""A run's search, analysed for people: what each chart of the run page shows, and its JSON.

The optimization history, every trial's epoch curve, the parameter importances Optuna computes
on the run's own study, and the parallel coordinates of parameters against the metric. The JSON
(``GET /api/runs/{id}/analysis``) keeps full precision; the charts round their labels.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from trainchain.report import RunReport, TrialReport
from trainchain.server.charts import Dimension, Series, bar_chart, num, parallel_chart, xy_chart
from trainchain.states import TrialState
from trainchain.store import Run, Store
from trainchain.trials import metrics as M

MIN_TRIALS_FOR_IMPORTANCE = 3  # below this PED-ANOVA has nothing to compare
_importance_cache: dict[tuple[str, int], dict[str, Any]] = {}
_cache_lock = threading.Lock()


def history(report: RunReport) -> dict[str, Any]:
    """Value per completed trial, the best so far as a step line, and the target."""
    goal, name = report.metric.goal, report.metric.name
    done = [t for t in report.trials if t.value is not None and t.state == TrialState.COMPLETE]
    best: float | None = None
    steps: list[tuple[float, float, str]] = []
    for t in done:
        if M.better(t.value, best, goal):
            if best is not None:  # a step, not a slope: the best holds until a trial beats it
                steps.append((t.number, best, f"best before trial {t.number}: {num(best)}"))
            best = t.value
        assert best is not None
        steps.append((t.number, best, f"best after trial {t.number}: {num(best)}"))
    values = [
        (t.number, float(t.value or 0), f"trial {t.number}: {name} {num(t.value)}") for t in done
    ]
    chart = xy_chart(
        [
            Series("trials", "trial-point", values, line=False),
            Series("best so far", "best-line", steps, markers=False),
        ],
        x_label="trial number",
        y_label=name,
        target=report.metric.target,
    )
    chart["legend"] = [
        {"label": "trial", "css": "trial-point"},
        {"label": "best so far", "css": "best-line"},
    ]
    chart["hidden"] = {
        state: sum(1 for t in report.trials if t.state == state)
        for state in (TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING)
        if any(t.state == state for t in report.trials)
    }
    return chart


def epoch_series(
    report: RunReport, trial: TrialReport
) -> tuple[str | None, list[tuple[int, float]]]:
    """A trial's curve of the run's metric per epoch (a resumed epoch: the last attempt wins)."""
    found_name, latest = None, {}
    for row in trial.epochs:
        hit = M.epoch_metric(row["metrics"], report.metric.name)
        if hit is not None:
            found_name, latest[int(row["epoch"])] = hit
    return found_name, sorted(latest.items())


def intermediate(report: RunReport) -> dict[str, Any]:
    """Every trial's epoch curve; pruned ones dashed, so a user sees where a trial was stopped."""
    series, names = [], set()
    best = report.best["trial"] if report.best else None
    for t in report.trials:
        name, points = epoch_series(report, t)
        if not points:
            continue
        names.add(name)
        css = f"curve trial-{t.state}" + (" best" if t.number == best else "")
        series.append(
            Series(
                f"trial {t.number}",
                css,
                [
                    (e, v, f"trial {t.number} ({t.state}) epoch {e}: {name} {num(v)}")
                    for e, v in points
                ],
                data={"trial": t.number, "state": t.state},
            )
        )
    label = names.pop() if len(names) == 1 else None
    chart = xy_chart(
        series, x_label="epoch", y_label=label or report.metric.name, target=report.metric.target
    )
    states = {t.state for t in report.trials if t.epochs}
    chart["legend"] = [
        {"label": state, "css": f"curve trial-{state}"} for state in TrialState if state in states
    ] + ([{"label": "best", "css": "curve best"}] if best is not None else [])
    return chart


def importances(store: Store, run: Run) -> dict[str, Any]:
    """Optuna's ``get_param_importances`` on the run's study, or why there are none yet."""
    complete = sum(1 for t in run.trials if t.state == TrialState.COMPLETE and t.number > 0)
    key = (run.id, complete)
    with _cache_lock:
        if key in _importance_cache:
            return _importance_cache[key]
    result = _compute_importances(store, run, complete)
    if result.get("transient"):
        return result  # try again on the next refresh
    with _cache_lock:
        if len(_importance_cache) > 256:  # runs finished long ago: recomputed when opened
            _importance_cache.clear()
        _importance_cache[key] = result
    return result


def _compute_importances(store: Store, run: Run, complete: int) -> dict[str, Any]:
    if complete < MIN_TRIALS_FOR_IMPORTANCE:
        return {
            "values": {},
            "reason": f"{complete} tuned trial(s) completed; importances need at least "
            f"{MIN_TRIALS_FOR_IMPORTANCE}",
        }
    import optuna

    storage = None
    try:
        storage = optuna.storages.RDBStorage(store.url)
        study = optuna.load_study(study_name=f"trainchain-{run.id}", storage=storage)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = optuna.importance.get_param_importances(study)
    except KeyError:  # no study: the run did not tune
        return {"values": {}, "reason": "this run has no Optuna study (it did not tune)"}
    except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as exc:
        # e.g. a database busy with the run's own writes: the next refresh tries again
        return {
            "values": {},
            "reason": f"could not read the study: {exc.__class__.__name__}",
            "transient": True,
        }
    finally:
        if storage is not None:
            storage.engine.dispose()
    if caught or not values:
        why = str(caught[0].message) if caught else "no parameter varied"
        return {"values": {}, "reason": f"not computed: {why}"}
    return {
        "values": dict(values),
        "reason": None,
        "evaluator": "PED-ANOVA, Optuna's default",
        "trials": complete,
    }


def importance_chart(result: dict[str, Any]) -> dict[str, Any]:
    bars = sorted(result["values"].items(), key=lambda kv: -kv[1])
    return bar_chart(bars, x_label="importance (share of the metric's variation, sums to 1)")


def parallel(report: RunReport, space: dict[str, Any]) -> dict[str, Any]:
    """Completed trials as lines across one axis per tuned parameter and the metric."""
    done = [t for t in report.trials if t.value is not None and t.state == TrialState.COMPLETE]
    names = [n for n in space if any(n in t.params for t in done)]
    names += sorted({k for t in done for k in t.params} - set(names) - _fixed(done))
    dims = [
        Dimension(
            n,
            [t.params.get(n) for t in done],
            log=bool((space.get(n) or {}).get("log")),
            choices=(space.get(n) or {}).get("choices"),
        )
        for n in names
    ]
    dims.append(Dimension(report.metric.name, [t.value for t in done]))
    values = [float(t.value or 0) for t in done]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or 1.0
    shades = [
        (v - low) / span if report.metric.goal == "maximize" else (high - v) / span for v in values
    ]
    titles = [
        f"trial {t.number}: {report.metric.name} {num(t.value)}; "
        + ", ".join(f"{k}={num(v)}" for k, v in t.params.items())
        for t in done
    ]
    return parallel_chart(dims, titles, shades)


def _fixed(done: list[TrialReport]) -> set[str]:
    """Parameters with one value in every trial: an axis with nothing to read."""
    return {
        k
        for k in {k for t in done for k in t.params}
        if len({str(t.params.get(k)) for t in done}) < 2
    }


def analysis_json(store: Store, run: Run, report: RunReport) -> dict[str, Any]:
    """The data behind the charts, full precision (``GET /api/runs/{id}/analysis``)."""
    best: float | None = None
    trials = []
    for t in report.trials:
        if t.state == TrialState.COMPLETE and M.better(t.value, best, report.metric.goal):
            best = t.value
        name, points = epoch_series(report, t)
        trials.append(
            {
                "number": t.number,
                "state": t.state,
                "value": t.value,
                "best_so_far": best,
                "params": t.params,
                "epoch_metric": name,
                "epochs": [{"epoch": e, "value": v} for e, v in points],
            }
        )
    return {
        "run_id": run.id,
        "status": run.status,
        "metric": report.metric.name,
        "goal": report.metric.goal,
        "target": report.metric.target,
        "trials": trials,
        "importances": importances(store, run),
    }
