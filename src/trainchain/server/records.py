"""Projects as the server shows and checks them; run summaries."""

from __future__ import annotations

import fnmatch
from typing import Any

from trainchain.errors import UsageError
from trainchain.server.errors import ConflictError
from trainchain.store import Project, Run, Store
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


def find_project(store: Store, urls: list[str]) -> Project | None:
    keys = {normalize_url(u) for u in urls if u}
    return next((p for p in store.projects() if normalize_url(p.url) in keys), None)


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
    from trainchain.stages.promote import model_name

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
    project = store.add_project(
        name, url, branch=branch, secret_env=secret_env, poll_seconds=poll_seconds, options=options
    )
    if project is None:
        raise ConflictError(
            f"a project named {name!r} already exists; choose another with --name "
            f"or remove it first (`trainchain projects remove {name}`)"
        )
    return project


def branch_matches(pattern: str | None, branch: str) -> bool:
    """``Project.branch`` is a branch name or a glob (``*``, ``release/*``)."""
    return not pattern or fnmatch.fnmatchcase(branch, pattern)


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
