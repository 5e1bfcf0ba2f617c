"""``POST /hooks/github``: verify, de-duplicate, filter, then queue a run in milliseconds.

Order matters: size limit, then project lookup, then signature (a forged body never touches the
deliveries table), then redelivery check, then the event itself. An unknown repository and a bad
signature get the same answer, so a stranger cannot probe which repositories are watched.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from trainchain.errors import StoreError, UsageError
from trainchain.server import records
from trainchain.server.errors import PayloadTooLargeError, UnauthorizedError
from trainchain.server.providers import PROVIDERS, Provider
from trainchain.server.queue import RunQueue
from trainchain.states import RunStatus
from trainchain.store import Project, Store, WebhookDelivery
from trainchain.urls import redact

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
ZERO_SHA = "0" * 40
FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256 object names


def refuse(provider: Provider, reason: str, *args: object) -> UnauthorizedError:
    """The one answer for every authentication failure; the reason goes to the server's log."""
    log.warning("webhook refused: " + reason, *args)
    return UnauthorizedError(
        f"webhook refused: no project watches this repository, or {provider.auth_header} does "
        "not match its secret; check the URL given to `trainchain projects add` and the secret "
        "in the repository's webhook settings (the server's log says which)"
    )


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, refused as soon as it passes ``limit`` (no 1 GB body held in memory)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(
            f"webhook body of {declared} bytes is over the {limit}-byte limit; "
            "send push events only (not a whole archive)"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(
                f"webhook body is over the {limit}-byte limit; send push events only"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def verify(provider: Provider, project: Project, body: bytes, headers: dict[str, str]) -> None:
    header = provider.auth_header
    if not project.secret_env:
        if (project.options or {}).get("insecure_unsigned"):
            log.warning("project %s has no secret: accepting an unsigned webhook", project.name)
            return
        raise refuse(
            provider, "project %s has no webhook secret (add it with --secret-env)", project.name
        )
    secret = os.environ.get(project.secret_env)
    if not secret:
        raise refuse(
            provider,
            "project %s verifies webhooks with $%s, not set on the server",
            project.name,
            project.secret_env,
        )
    given = headers.get(header.lower())
    if not given:
        raise refuse(provider, "no %s header for project %s", header, project.name)
    if not provider.authentic(secret, body, given):
        raise refuse(
            provider,
            "%s does not match $%s for project %s",
            header,
            project.secret_env,
            project.name,
        )


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"webhook body is not JSON ({exc}); set the content type to application/json"
        ) from exc
    if not isinstance(payload, dict):
        raise UsageError("webhook body is not a JSON object; send GitHub's push payload")
    return payload


class Hooks:
    def __init__(self, store: Store, queue: RunQueue) -> None:
        self.store, self.queue = store, queue

    def _record(
        self,
        provider: Provider,
        delivery: str,
        event: str,
        project: Project,
        result: str,
        run_id: str | None = None,
    ) -> None:
        self.store.record_delivery(
            delivery,
            provider=provider.name,
            event=event[:40],
            project_id=project.id,
            run_id=run_id,
            result=result,
        )

    def _seen(self, delivery: str) -> WebhookDelivery | None:
        return self.store.delivery(delivery)

    def _run_of(self, project: Project, branch: str, commit: str) -> str | None:
        """A run already queued for this project, branch and commit (any status but superseded)."""
        return self.store.run_for_commit(project.id, branch, commit)

    def handle(
        self, provider: Provider, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        payload = _parse(body)
        urls = provider.urls(payload)
        project = records.find_project(self.store, urls)
        if project is None:
            raise refuse(
                provider,
                "no project for repository %s",
                redact(urls[0]) if urls else "(none in payload)",
            )
        verify(provider, project, body, headers)
        event = headers.get(provider.event_header.lower(), "")
        delivery = provider.delivery_id(headers, body)
        if not delivery:
            raise UsageError(
                f"webhook has no {provider.delivery_header} header; {provider.name} always "
                "sends one, check any proxy in between"
            )
        # one writer at a time: SQLite's busy-wait under concurrent writers costs far more
        with self.queue.lock:
            return self._verified(provider, project, event, delivery, payload)

    def _verified(
        self,
        provider: Provider,
        project: Project,
        event: str,
        delivery: str,
        payload: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        seen = self._seen(delivery)
        if seen is not None:
            return 200, {"status": "duplicate", "delivery": delivery, "run_id": seen.run_id}
        if event in provider.ping_events:
            self._record(provider, delivery, event, project, "pong")
            return 200, {"status": "pong", "project": project.name}
        if event not in provider.push_events:
            self._record(provider, delivery, event, project, "ignored:event")
            return 202, {"status": "ignored", "reason": f"event {event!r} does not start runs"}
        return self._push(provider, delivery, project, payload)

    def _push(
        self, provider: Provider, delivery: str, project: Project, payload: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        ref, after = str(payload.get("ref") or ""), str(payload.get("after") or "")
        reason = None
        if not ref.startswith("refs/heads/"):
            reason, result = f"{ref!r} is not a branch (tag pushes do not train)", "ignored:tag"
        elif payload.get("deleted") or after == ZERO_SHA:
            reason, result = f"branch {ref[11:]!r} was deleted", "ignored:deleted"
        elif not records.branch_matches(project.branch, ref[11:]):
            reason = f"branch {ref[11:]!r} is not watched (project branch {project.branch!r})"
            result = "ignored:branch"
        if reason is not None:
            self._record(provider, delivery, "push", project, result)
            return 202, {"status": "ignored", "reason": reason}
        if not FULL_SHA.match(after):
            raise UsageError(
                f"push 'after' {after[:80]!r} is not a full commit id (40 or 64 hex digits); "
                "only the commit a push names is trained, never a ref"
            )
        branch = ref[len("refs/heads/") :]
        with self.queue.lock:
            earlier = self._run_of(project, branch, after)
            if earlier is not None:  # a replayed body under a new delivery id
                self._record(provider, delivery, "push", project, "duplicate", earlier)
                return 200, {"status": "duplicate", "delivery": delivery, "run_id": earlier}
            run_id, superseded = self.queue.submit(project, branch, after, "webhook")
            try:
                self._record(provider, delivery, "push", project, "queued", run_id)
            except StoreError:
                # a concurrent redelivery won the unique delivery id: drop our run
                self.store.update_run(
                    run_id, status=RunStatus.SUPERSEDED.value, error="duplicate delivery"
                )
                return 200, {"status": "duplicate", "delivery": delivery}
        log.info("push %s@%s -> run %s", project.name, branch, run_id)
        return 202, {
            "status": "queued",
            "run_id": run_id,
            "branch": branch,
            "commit": after,
            "superseded": superseded,
        }


def router(store: Store, queue: RunQueue) -> APIRouter:
    hooks = Hooks(store, queue)
    api = APIRouter(tags=["webhooks"])

    async def receive(provider: Provider, request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        body = await read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, content = await run_in_threadpool(hooks.handle, provider, headers, body)
        return JSONResponse(content, status_code=status)

    @api.post("/hooks/github", status_code=202)
    async def github(request: Request) -> JSONResponse:
        """GitHub push and ping events, signed with X-Hub-Signature-256."""
        return await receive(PROVIDERS["github"], request)

    @api.post("/hooks/gitea", status_code=202)
    async def gitea(request: Request) -> JSONResponse:
        """Gitea/Forgejo push events, signed with X-Gitea-Signature."""
        return await receive(PROVIDERS["gitea"], request)

    @api.post("/hooks/gitlab", status_code=202)
    async def gitlab(request: Request) -> JSONResponse:
        """GitLab push events, authenticated with X-Gitlab-Token."""
        return await receive(PROVIDERS["gitlab"], request)

    return api
