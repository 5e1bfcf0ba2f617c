"""Store queries the server needs beyond ``Store``: projects, run lists, supersede, counts."""

from __future__ import annotations

import fnmatch
from typing import Any

from sqlalchemy import func, select, update

from trainchain.errors import NotFoundError, UsageError
from trainchain.server.errors import ConflictError
from trainchain.states import RunStatus
from trainchain.store import Project, Run, Store, WebhookDelivery
from trainchain.urls import check_source, redact, strip_credentials


def normalize_url(url: str) -> str:
    """``https://github.com/A/B.git``, ``git@github.com:A/B.git`` and ``.../A/B/`` -> one key."""
    text = strip_credentials(url.strip()).lower().rstrip("/").removesuffix(".git")
    if text.startswith("git@"):
        host, _, path = text[4:].partition(":")
        text = f"{host}/{path}"
    for prefix in ("https://", "http://", "ssh://git@", "ssh://", "git://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text


def project_dict(p: Project) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "url": redact(p.url),
        "branch": p.branch,
        "secret_env": p.secret_env,
        "poll_seconds": p.poll_seconds,
        "insecure_unsigned": bool((p.options or {}).get("insecure_unsigned")),
        "settings": {k: v for k, v in (p.options or {}).items() if k != "insecure_unsigned"},
        "last_seen_commit": p.last_seen_commit,
        "created_at": p.created_at.isoformat(timespec="seconds") + "Z",
    }


def list_projects(store: Store) -> list[Project]:
    with store.session() as s:
        return list(s.scalars(select(Project).order_by(Project.name)))


def find_project(store: Store, urls: list[str]) -> Project | None:
    keys = {normalize_url(u) for u in urls if u}
    return next((p for p in list_projects(store) if normalize_url(p.url) in keys), None)


def add_project(
    store: Store,
    url: str,
    branch: str = "main",
    secret_env: str | None = None,
    poll_seconds: float | None = None,
    name: str | None = None,
    allow_local: bool = False,
    insecure_unsigned: bool = False,
    settings: dict[str, Any] | None = None,
) -> Project:
    """``allow_local``: the operator's command line may watch a path on this machine.
    ``settings``: the operator's settings of the project's runs (runtime, notify, data, ...),
    which the repository's trainchain.yaml cannot override."""
    from trainchain.config import check_operator_settings
    from trainchain.pipeline import model_name

    if not url.strip():
        raise UsageError("project url is empty; give the repository's clone URL")
    url = check_source(url.strip(), allow_local)
    if poll_seconds is not None and poll_seconds < 5:
        raise UsageError(f"poll interval {poll_seconds}s is too short; use 5 seconds or more")
    if not secret_env and poll_seconds is None and not insecure_unsigned:
        raise UsageError(
            "the project has no webhook secret: anyone could start runs with a forged push; "
            "give --secret-env VAR (the env var holding the secret set in the repository's "
            "webhook), or --poll INTERVAL, or accept unsigned pushes with --insecure-unsigned"
        )
    options = check_operator_settings(settings or {})
    if insecure_unsigned:
        options["insecure_unsigned"] = True
    name = name or model_name(strip_credentials(url))
    with store.session() as s:
        if s.scalars(select(Project).where(Project.name == name)).first() is not None:
            raise ConflictError(
                f"a project named {name!r} already exists; choose another with --name "
                f"or remove it first (`trainchain projects remove {name}`)"
            )
        project = Project(
            name=name,
            url=url,
            branch=branch,
            secret_env=secret_env,
            poll_seconds=poll_seconds,
            options=options,
        )
        s.add(project)
        s.flush()
        return project


def remove_project(store: Store, name: str) -> None:
    with store.session() as s:
        project = s.scalars(select(Project).where(Project.name == name)).first()
        if project is None:
            raise NotFoundError(f"no project {name!r}; `trainchain projects list` shows them")
        # keep the runs and deliveries as history, only detach them
        s.execute(update(Run).where(Run.project_id == project.id).values(project_id=None))
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.project_id == project.id)
            .values(project_id=None)
        )
        s.delete(project)


def branch_matches(pattern: str | None, branch: str) -> bool:
    """``Project.branch`` is a branch name or a glob (``*``, ``release/*``)."""
    return not pattern or fnmatch.fnmatchcase(branch, pattern)


def supersede_queued(
    store: Store, project_id: int, branch: str, keep: str, claimed: set[str]
) -> int:
    """Mark queued runs of this project+branch, other than ``keep`` and claimed ones, superseded."""
    with store.session() as s:
        result = s.execute(
            update(Run)
            .where(
                Run.project_id == project_id,
                Run.branch == branch,
                Run.status == RunStatus.QUEUED.value,
                Run.id != keep,
                Run.id.not_in(claimed or {""}),
            )
            .values(status=RunStatus.SUPERSEDED.value, error=f"superseded by run {keep}")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def list_runs(store: Store, limit: int = 50, status: str | None = None) -> list[Run]:
    with store.session() as s:
        query = select(Run).order_by(Run.created_at.desc(), Run.id).limit(limit)
        if status:
            query = query.where(Run.status == status)
        return list(s.scalars(query))


def run_summary(run: Run) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat(timespec="seconds") + "Z" if value is not None else None

    return {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "source": redact(run.source),
        "branch": run.branch,
        "commit": run.commit or run.ref,
        "trigger": run.trigger,
        "project_id": run.project_id,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "error": redact(run.error) if run.error else None,
    }


def counts(store: Store) -> tuple[dict[str, int], dict[str, int]]:
    """Runs by status and webhook deliveries by result (for /metrics)."""
    with store.session() as s:
        runs = dict(s.execute(select(Run.status, func.count()).group_by(Run.status)).all())
        hooks = dict(
            s.execute(
                select(WebhookDelivery.result, func.count()).group_by(WebhookDelivery.result)
            ).all()
        )
    return {str(k): int(v) for k, v in runs.items()}, {str(k): int(v) for k, v in hooks.items()}
