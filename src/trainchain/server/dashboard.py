"""Server-rendered dashboard (Jinja2 and SVG, no CDN): runs as rows of six stage boxes, a run
page with its search charts (updated live while it runs), and the model registry."""

from __future__ import annotations

from typing import Any

import jinja2
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from trainchain.server import analysis, records, registry
from trainchain.server.charts import num
from trainchain.store import Run, Store

STAGES = ("fetch", "detect", "train", "tune", "promote", "monitor")
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("trainchain.server", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)
_env.filters["num"] = num


def _page(template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(template).render(stages=STAGES, **context))


def run_context(store: Store, run: Run) -> dict[str, Any]:
    """What the run page and its live fragment show."""
    from trainchain.reporting import build_report

    report = build_report(store, run)
    space = (run.detection or {}).get("space") or {}
    importance = analysis.importances(store, run)
    names = [n for n in space if any(n in t.params for t in report.trials)]
    names += sorted({k for t in report.trials for k in t.params} - set(names))
    return {
        "run": records.run_summary(run),
        "report": report,
        "detection": run.detection or {},
        "space": space,
        "states": {s.stage: s.state for s in run.stages},
        "budget": (run.config or {}).get("max_trials"),
        "history": analysis.history(report),
        "curves": analysis.intermediate(report),
        "importance": importance,
        "importance_chart": analysis.importance_chart(importance),
        "coords": analysis.parallel(report, space),
        "param_names": names,
    }


def router(store: Store) -> APIRouter:
    pages = APIRouter(include_in_schema=False)  # the Guard checks the session

    @pages.get("/")
    def index() -> HTMLResponse:
        from trainchain.reporting import build_report

        rows = []
        for run in store.runs(limit=50):
            states = {s.stage: s.state for s in run.stages}
            best = build_report(store, run).best
            rows.append(
                {
                    "run": records.run_summary(run),
                    "states": states,
                    "best": best["value"] if best else None,
                }
            )
        return _page("index.html", rows=rows)

    @pages.get("/runs/{run_id}")
    def run_page(run_id: str) -> HTMLResponse:
        context = run_context(store, store.get_run(run_id))
        return _page("run.html", **context)

    @pages.get("/runs/{run_id}/live")
    def run_live(run_id: str) -> HTMLResponse:
        """The part of the run page that changes while it runs (the page polls it)."""
        return _page("_run_live.html", **run_context(store, store.get_run(run_id)))

    @pages.get("/models")
    def models_page() -> HTMLResponse:
        return _page(
            "models.html",
            models=registry.model_summaries(store),
        )

    @pages.get("/models/{name}")
    def model_page(name: str) -> HTMLResponse:
        return _page(
            "model.html",
            **registry.model_context(store, name),
        )

    @pages.get("/models/{name}/compare")
    def compare_page(name: str, a: int, b: int) -> HTMLResponse:
        return _page(
            "compare.html",
            **registry.compare_context(store, name, a, b),
        )

    return pages
