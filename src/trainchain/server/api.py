"""The REST API under ``/api``: projects, runs (report, logs, queue one), models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from trainchain import paths
from trainchain.config import SERVER_DEFAULTS
from trainchain.errors import NotFoundError
from trainchain.server import records
from trainchain.server.errors import TooManyStreamsError
from trainchain.server.queue import RunQueue
from trainchain.store import ModelVersion, Store
from trainchain.urls import check_source


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, description="Repository URL (as in the webhook payload)")
    branch: str = Field("main", min_length=1, description="Branch name or glob to train")
    secret_env: str | None = Field(None, description="Env var holding the webhook secret")
    poll_seconds: float | None = Field(None, description="Poll the branch head this often")
    name: str | None = Field(None, min_length=1, description="Project name (default: repo)")
    insecure_unsigned: bool = Field(
        False, description="Accept webhooks without a signature (needs no secret_env)"
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Operator settings of the project's runs (runtime, notify, data, resources, "
        "...); a repository's trainchain.yaml cannot override them",
    )


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, description="Local path or git URL to train")
    ref: str | None = Field(None, description="Commit, branch or tag")
    options: dict[str, Any] = Field(default_factory=dict, description="Overrides of the config")


def _version(v: ModelVersion, aliases: dict[str, int]) -> dict[str, Any]:
    return {
        "name": v.name,
        "version": v.version,
        "run_id": v.run_id,
        "trial": v.trial,
        "metric": v.metric_name,
        "goal": v.goal,
        "value": v.value,
        "params": v.params,
        "commit": v.commit,
        "branch": v.branch,
        "profile": v.profile,
        "path": v.path,
        "metrics": v.metrics,
        "data_fingerprint": v.data_fingerprint,
        "curves": v.curves,
        "aliases": sorted(a for a, n in aliases.items() if n == v.version),
        "created_at": v.created_at.isoformat(timespec="seconds") + "Z",
    }


LOG_TAIL_BYTES = 256 * 1024  # per log file: the end is what explains how a trial ended
LOGS_TOTAL_BYTES = 8 * 1024 * 1024


def run_logs(store: Store, run_id: str) -> str:
    """Every log of the run, each its last ``LOG_TAIL_BYTES`` (a 100 MB log is never read)."""
    run = store.get_run(run_id)
    root = paths.run_dir(run.id, paths.storage_of(run.options))
    parts, total = [], 0
    for log_file in sorted(root.rglob("*.log")):
        if total >= LOGS_TOTAL_BYTES:
            parts.append(f"===== more logs in {root} (over {LOGS_TOTAL_BYTES} bytes) =====\n")
            break
        text, skipped = _tail(log_file, LOG_TAIL_BYTES)
        note = f" (last {LOG_TAIL_BYTES} bytes; {skipped} before them)" if skipped else ""
        parts.append(f"===== {log_file.relative_to(root)}{note} =====\n")
        parts.append(text)
        total += len(text)
    return "".join(parts) or f"run {run.id} has no logs yet (status {run.status})\n"


def _tail(path: Path, limit: int) -> tuple[str, int]:
    """The last ``limit`` bytes of ``path`` and how many bytes came before them."""
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        start = max(0, size - limit)
        fh.seek(start)
        return fh.read(limit).decode("utf-8", errors="replace"), start


def router(store: Store, queue: RunQueue) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["api"])  # the Guard checks the token

    @api.get("/projects")
    def get_projects() -> list[dict[str, Any]]:
        return [records.project_dict(p) for p in store.projects()]

    @api.post("/projects", status_code=201)
    def post_project(body: ProjectIn) -> dict[str, Any]:
        project = records.add_project(
            store,
            body.url,
            body.branch,
            body.secret_env,
            body.poll_seconds,
            body.name,
            insecure_unsigned=body.insecure_unsigned,
            settings=body.settings,
        )
        return records.project_dict(project)

    @api.delete("/projects/{name}", status_code=204)
    def delete_project(name: str) -> None:
        store.remove_project(name)

    @api.get("/runs")
    def get_runs(
        limit: int = Query(50, ge=1, le=500), status: str | None = None
    ) -> list[dict[str, Any]]:
        return [records.run_summary(r) for r in store.runs(limit, status)]

    @api.post("/runs", status_code=202)
    def post_run(body: RunIn) -> dict[str, Any]:
        from trainchain.pipeline import Pipeline

        source = check_source(body.source, allow_local=False)  # paths: the command line only
        options = {**SERVER_DEFAULTS, **body.options}  # the API's caller is the operator
        run_id = Pipeline(store).create_run(source, ref=body.ref, options=options, trigger="api")
        queue.notify()
        return {"status": "queued", "run_id": run_id}

    @api.get("/runs/{run_id}")
    def get_run(run_id: str) -> dict[str, Any]:
        from trainchain.reporting import build_report

        run = store.get_run(run_id)
        return {**build_report(store, run).to_dict(), **{"summary": records.run_summary(run)}}

    @api.get("/runs/{run_id}/analysis")
    def get_run_analysis(run_id: str) -> dict[str, Any]:
        """The data of the run page's charts at full precision: per trial the value, the best
        so far, the parameters and the epoch curve; Optuna's parameter importances."""
        from trainchain.reporting import build_report
        from trainchain.server.analysis import analysis_json

        run = store.get_run(run_id)
        return analysis_json(store, run, build_report(store, run))

    @api.get("/runs/{run_id}/logs", response_class=PlainTextResponse)
    def get_run_logs(run_id: str) -> str:
        return run_logs(store, run_id)

    @api.get("/runs/{run_id}/logs/stream", response_class=StreamingResponse)
    def stream_run_logs(run_id: str) -> StreamingResponse:
        """Server-sent events: each new log line as it is written, then an ``end`` event."""
        from trainchain.server.logstream import MAX_STREAMS, follow, stream_slot

        store.get_run(run_id)  # 404 now, not inside the stream
        if not stream_slot():
            raise TooManyStreamsError(
                f"{MAX_STREAMS} log streams are open already; close one, or read "
                f"GET /api/runs/{run_id}/logs"
            )
        return StreamingResponse(follow(store, run_id), media_type="text/event-stream")

    @api.get("/models")
    def get_models() -> list[dict[str, Any]]:
        out = []
        for name in store.model_names():
            versions, aliases = store.model_versions(name), store.aliases(name)
            out.append(
                {
                    "name": name,
                    "latest": _version(versions[-1], aliases),
                    "aliases": aliases,
                    "versions": len(versions),
                }
            )
        return out

    @api.get("/models/{name}")
    def get_model(name: str) -> dict[str, Any]:
        versions = store.model_versions(name)
        if not versions:
            raise NotFoundError(f"no model {name!r} in the registry; GET /api/models lists them")
        aliases = store.aliases(name)
        return {
            "name": name,
            "aliases": aliases,
            "versions": [_version(v, aliases) for v in versions],
        }

    return api
