"""Server-rendered dashboard (Jinja2, no CDN): runs as rows of six stage boxes, a run page
with its trial chart, and the model registry."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from trainchain.server import records
from trainchain.store import ModelVersion, Store

STAGES = ("fetch", "detect", "train", "tune", "promote", "monitor")
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("trainchain.server", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)


def chart(values: list[tuple[int, float]], target: float | None, goal: str) -> dict[str, Any]:
    """Points and target line of the metric per trial, in a 600x240 SVG box."""
    width, height, pad = 600, 240, 30
    ys = [v for _, v in values] + ([target] if target is not None else [])
    if not ys:
        return {"points": [], "target_y": None, "width": width, "height": height}
    low, high = min(ys), max(ys)
    span = (high - low) or 1.0
    last = max((n for n, _ in values), default=1) or 1

    def x(n: int) -> float:
        return round(pad + (width - 2 * pad) * n / last, 1)

    def y(v: float) -> float:
        return round(height - pad - (height - 2 * pad) * (v - low) / span, 1)

    points = [{"x": x(n), "y": y(v), "n": n, "v": v} for n, v in values]
    return {
        "points": points,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        "target_y": y(target) if target is not None else None,
        "target": target,
        "goal": goal,
        "low": low,
        "high": high,
        "width": width,
        "height": height,
    }


def epoch_curves(report: Any) -> dict[str, dict[str, Any]]:
    """Per-epoch curves of the best trial: the metric and its val_ twin, when recorded."""
    if not report.best:
        return {}
    trial = next((t for t in report.trials if t.number == report.best["trial"]), None)
    if trial is None:
        return {}
    base = report.metric.name.removeprefix("val_").removeprefix("test_")
    latest: dict[str, dict[int, float]] = {}
    for row in trial.epochs:  # a resumed epoch: the last attempt's value wins
        for name, value in row["metrics"].items():
            latest.setdefault(name, {})[int(row["epoch"])] = float(value)
    return {
        name: chart(sorted(latest[name].items()), report.metric.target, report.metric.goal)
        for name in (f"val_{base}", base)
        if name in latest
    }


def _page(name: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(stages=STAGES, **context))


def router(store: Store) -> APIRouter:
    pages = APIRouter(include_in_schema=False)  # the Guard checks the session

    @pages.get("/")
    def index(request: Request) -> HTMLResponse:
        from trainchain.reporting import build_report

        rows = []
        for run in records.list_runs(store, limit=50):
            states = {s.stage: s.state for s in run.stages}
            best = build_report(store, run).best
            rows.append(
                {
                    "run": records.run_summary(run),
                    "states": states,
                    "best": best["value"] if best else None,
                }
            )
        return _page("index.html", rows=rows, token="")

    @pages.get("/runs/{run_id}")
    def run_page(run_id: str, request: Request) -> HTMLResponse:
        from trainchain.reporting import build_report

        run = store.get_run(run_id)
        report = build_report(store, run)
        values = [(t.number, t.value) for t in report.trials if t.value is not None]
        return _page(
            "run.html",
            run=records.run_summary(run),
            report=report,
            detection=run.detection,
            states={s.stage: s.state for s in run.stages},
            chart=chart(values, report.metric.target, report.metric.goal),
            curves=epoch_curves(report),
            token="",
        )

    @pages.get("/models")
    def models_page(request: Request) -> HTMLResponse:
        with store.session() as s:
            versions = list(
                s.scalars(select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version))
            )
        aliases = {name: store.aliases(name) for name in {v.name for v in versions}}
        return _page(
            "models.html",
            versions=versions,
            aliases=aliases,
            token="",
        )

    return pages
