"""Build the ``RunReport`` of a run from the store (CLI --json, notifications, API)."""

from __future__ import annotations

from trainchain.report import AttemptReport, MetricSpec, ModelReport, RunReport, TrialReport
from trainchain.store import Run, Store, Trial
from trainchain.trials.metrics import best_trial
from trainchain.urls import redact


def _iso(value: object) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None  # type: ignore[attr-defined]


def curve(trial: Trial) -> list[dict[str, object]]:
    """A trial's per-epoch metrics, every attempt's, in the order they were recorded."""
    return [{"epoch": e.epoch, "attempt": e.attempt, "metrics": e.metrics} for e in trial.epochs]


def _architecture(info: dict[str, object]) -> dict[str, object] | None:
    arch = info.get("architecture")
    if not isinstance(arch, dict):
        return None
    return {k: arch[k] for k in ("knobs", "before", "after", "notes") if k in arch}


def _event(info: dict[str, object], kind: str, keys: tuple[str, ...]) -> dict[str, object] | None:
    found = info.get(kind)
    return {k: found.get(k) for k in keys} if isinstance(found, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def build_report(store: Store, run: Run) -> RunReport:
    config = run.config or {}
    trials = store.trials(run.id)
    reports = [
        TrialReport(
            number=t.number,
            state=t.state,
            value=t.value,
            params=dict(t.params),
            metric_source=t.metric_source,
            error=t.error,
            attempts=[
                AttemptReport(
                    a.number,
                    a.outcome,
                    a.reason,
                    a.first_epoch,
                    a.last_epoch,
                    a.resumed_from,
                    _iso(a.started_at),
                    _iso(a.ended_at),
                )
                for a in t.attempts
            ],
            epochs=curve(t),
            architecture=_architecture(t.info),
            seed=(t.info or {}).get("seed"),
            warning=_text(t.info.get("warning")),
            adjusted=[
                {k: ev.get(k) for k in ("argument", "from", "to", "why")}
                for ev in t.info.get("adjusted") or []
                if isinstance(ev, dict)
            ],
            best_epoch=_event(t.info or {}, "best", ("epoch", "value", "metric")),
            early_stop=_event(t.info or {}, "early_stop", ("epoch", "why")),
            probe=_text((t.info or {}).get("probe")),
        )
        for t in trials
    ]
    goal = config.get("goal", "maximize")
    pick = best_trial(trials, run.metric_name, goal)
    best = None
    if pick is not None:
        best = {"trial": pick.number, "value": pick.value, "params": dict(pick.params)}
    baseline = next((t for t in trials if t.number == 0), None)
    model = None
    if run.model_version is not None:
        version = next(
            (v for v in store.model_versions(run.name) if v.version == run.model_version), None
        )
        if version is not None:
            aliases = [a for a, v in store.aliases(run.name).items() if v == version.version]
            model = ModelReport(run.name, version.version, aliases, version.path)
    return RunReport(
        run_id=run.id,
        status=run.status,
        source=redact(run.source),
        commit=run.commit,
        branch=run.branch,
        profile=run.profile,
        metric=MetricSpec(
            run.metric_name or config.get("metric", "auto"), goal, float(config.get("target", 0.8))
        ),
        baseline={"value": baseline.value, "params": dict(baseline.params)} if baseline else None,
        best=best,
        trials=reports,
        model=model,
        error=run.error,
        failed_stage=run.failed_stage,
        became_champion=run.became_champion,
        stages={s.stage: s.state for s in run.stages},
        started_at=_iso(run.started_at),
        ended_at=_iso(run.ended_at),
    )
