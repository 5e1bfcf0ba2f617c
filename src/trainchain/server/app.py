"""``create_app``: the FastAPI application (webhooks, API, dashboard, worker lifespan)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException

from trainchain import __version__
from trainchain.errors import TrainchainError
from trainchain.server import api, dashboard, login, webhooks
from trainchain.server.auth import LOOPBACK_HOSTS, Guard, server_token
from trainchain.server.metrics import exposition, metrics_registry
from trainchain.server.polling import Poller
from trainchain.server.queue import Executor, PipelineExecutor, RunQueue
from trainchain.store import Store

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def create_app(
    store: Store | None = None,
    executor: Executor | None = None,
    max_concurrent: int = 1,
    start_worker: bool = True,
    token: str | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
    open_paths: Iterable[str] = (),
) -> Any:
    """The app behind its ``Guard``. ``start_worker=False`` serves without executing runs
    (they stay queued). ``token``: default ``$TRAINCHAIN_API_TOKEN`` or the saved one;
    ``allowed_hosts``: names in the Host header; ``open_paths``: paths served without the
    token (``/metrics``, ``/docs``), as the operator decides."""
    store = store or Store()
    token = token or server_token()[0]
    queue = RunQueue(store, executor or PipelineExecutor(store), max_concurrent)
    poller = Poller(store, queue)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if start_worker:
            queue.start()
            poller.start()
        try:
            yield
        finally:
            poller.stop()
            queue.stop()

    app = FastAPI(title="trainchain", version=__version__, lifespan=lifespan)
    app.state.store, app.state.queue, app.state.poller = store, queue, poller
    app.state.token = token

    @app.exception_handler(TrainchainError)
    async def trainchain_error(_request: Request, exc: TrainchainError) -> JSONResponse:
        if exc.http_status >= 500:
            log.error("request failed: %s", exc.message)
        return JSONResponse({"error": exc.message}, status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    @app.exception_handler(RecursionError)
    async def too_deep(_request: Request, _exc: RecursionError) -> JSONResponse:
        return JSONResponse({"error": "request body is nested too deeply"}, status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, object]:
        return {"ok": True, "version": __version__, "active_runs": queue.active}

    registry = metrics_registry(store, queue)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics() -> Response:
        return Response(exposition(registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(login.router(token))
    app.include_router(webhooks.router(store, queue))
    app.include_router(api.router(store, queue))
    app.include_router(dashboard.router(store))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    guarded = Guard(app, token, allowed_hosts, open_paths)
    guarded.state = app.state  # type: ignore[attr-defined]  # tests and serve read it
    return guarded
