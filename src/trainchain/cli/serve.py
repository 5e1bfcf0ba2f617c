"""`trainchain serve` and `trainchain projects add|list|remove`."""

from __future__ import annotations

import ipaddress
import os

import click

from trainchain.errors import UsageError
from trainchain.extras import require
from trainchain.urls import redact


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_interval(value: str | None) -> float | None:
    """``60``, ``60s``, ``5m`` or ``1h`` -> seconds."""
    if value is None:
        return None
    text = value.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1:], None)
    number = text[:-1] if scale else text
    try:
        seconds = float(number) * (scale or 1)
    except ValueError as exc:
        raise UsageError(f"--poll {value!r} is not an interval; write 60, 60s, 5m or 1h") from exc
    return seconds


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers-runs", default=1, show_default=True, type=int, help="Runs executed at the same time."
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="A name clients reach the server by (Host header); repeat for several. "
    "Default: the loopback names and --host.",
)
@click.option("--open-metrics", is_flag=True, help="Serve /metrics without the token.")
@click.option("--open-docs", is_flag=True, help="Serve /docs and /openapi.json without the token.")
def serve(
    host: str,
    port: int,
    workers_runs: int,
    allowed_hosts: tuple[str, ...],
    open_metrics: bool,
    open_docs: bool,
) -> None:
    """Start the webhook server, REST API and dashboard (uvicorn). A token is always required:
    $TRAINCHAIN_API_TOKEN, else the one saved in TRAINCHAIN_HOME/api-token (made at first start)."""
    from trainchain.server.auth import DOCS_PATHS, LOOPBACK_HOSTS, server_token, token_path

    if workers_runs < 1:
        raise UsageError(f"--workers-runs {workers_runs}: give 1 or more")
    require("server", "trainchain serve")
    wildcard = host in ("0.0.0.0", "::", "")
    if wildcard and not allowed_hosts:
        raise UsageError(
            f"--host {host!r} listens on every address; name the host clients use with "
            "--allowed-host NAME (the Host header is checked against it, against DNS rebinding)"
        )
    hosts = list(allowed_hosts) or [*LOOPBACK_HOSTS, *([] if wildcard else [host])]
    opened = [*(["/metrics"] if open_metrics else []), *(DOCS_PATHS if open_docs else [])]
    import uvicorn

    from trainchain.server.app import create_app

    token, created = server_token()
    if created:
        click.echo(f"API token (shown once; saved in {token_path()}, mode 0600): {token}")
    app = create_app(
        max_concurrent=workers_runs, token=token, allowed_hosts=hosts, open_paths=opened
    )
    click.echo(
        f"trainchain serving on http://{host}:{port} (dashboard /, API /api, docs /docs); "
        f"answers to Host {', '.join(hosts)}"
    )
    uvicorn.run(app, host=host, port=port, log_level="info")


@click.group()
def projects() -> None:
    """Projects watched by the server (webhooks, polling)."""


@projects.command("add")
@click.argument("url")
@click.option("--branch", default="main", show_default=True, help="Branch (or glob) to train.")
@click.option("--secret-env", help="Env var with the webhook secret (GITHUB_WEBHOOK_SECRET).")
@click.option("--poll", help="Poll the branch head this often (60s, 5m) instead of webhooks.")
@click.option("--name", help="Project name (default: the repository's name).")
@click.option(
    "--insecure-unsigned",
    is_flag=True,
    help="Accept webhooks without a signature (anyone who can reach the server can "
    "start runs); without it a project needs --secret-env or --poll.",
)
@click.option(
    "--runtime",
    type=click.Choice(["docker", "local", "auto"]),
    help="Where the project's trials run (default for the server: docker).",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML file of operator settings for the project's runs (notify, data, "
    "resources, tracking, ...), which the repository's trainchain.yaml cannot change.",
)
def add(
    url: str,
    branch: str,
    secret_env: str | None,
    poll: str | None,
    name: str | None,
    insecure_unsigned: bool,
    runtime: str | None,
    settings_file: str | None,
) -> None:
    """Watch the repository URL (or a local path)."""
    from pathlib import Path

    from trainchain.config import load_settings_file
    from trainchain.server import records
    from trainchain.store import Store

    settings = load_settings_file(Path(settings_file)) if settings_file else {}
    if runtime:
        settings["runtime"] = runtime
    project = records.add_project(
        Store(),
        url,
        branch,
        secret_env,
        parse_interval(poll),
        name,
        allow_local=True,
        insecure_unsigned=insecure_unsigned,
        settings=settings,
    )
    click.echo(f"project {project.name}: {redact(project.url)} branch {project.branch}")
    if secret_env and not os.environ.get(secret_env):
        click.echo(
            f"warning: ${secret_env} is not set here; set it where the server runs", err=True
        )


@projects.command("list")
def list_projects() -> None:
    """Every watched project."""
    from trainchain.store import Store

    rows = Store().projects()
    if not rows:
        click.echo("no projects; add one with `trainchain projects add URL`")
    for p in rows:
        poll = f" poll {p.poll_seconds:g}s" if p.poll_seconds else ""
        secret = f" secret ${p.secret_env}" if p.secret_env else " (unsigned)"
        click.echo(f"{p.name}\t{redact(p.url)}\tbranch {p.branch}{secret}{poll}")


@projects.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Stop watching project NAME (its runs are kept)."""
    from trainchain.store import Store

    Store().remove_project(name)
    click.echo(f"removed project {name}")
