"""`trainchain serve` and `trainchain projects add|list|remove`."""

from __future__ import annotations

import ipaddress
import os

import click

from trainchain.errors import UsageError
from trainchain.extras import require


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
@click.option("--workers-runs", default=1, show_default=True, type=int,
              help="Runs executed at the same time.")
def serve(host: str, port: int, workers_runs: int) -> None:
    """Start the webhook server, REST API and dashboard (uvicorn)."""
    if not is_loopback(host) and not os.environ.get("TRAINCHAIN_API_TOKEN"):
        raise UsageError(
            f"--host {host} is reachable from other machines but TRAINCHAIN_API_TOKEN is not set; "
            "export TRAINCHAIN_API_TOKEN=<a long random secret> or use --host 127.0.0.1"
        )
    if workers_runs < 1:
        raise UsageError(f"--workers-runs {workers_runs}: give 1 or more")
    require("server", "trainchain serve")
    import uvicorn

    from trainchain.server.app import create_app

    app = create_app(max_concurrent=workers_runs, open_dashboard=is_loopback(host))
    click.echo(f"trainchain serving on http://{host}:{port} (dashboard /, API /api, docs /docs)")
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
def add(url: str, branch: str, secret_env: str | None, poll: str | None, name: str | None) -> None:
    """Watch the repository URL."""
    from trainchain.server import records
    from trainchain.store import Store

    project = records.add_project(Store(), url, branch, secret_env, parse_interval(poll), name)
    click.echo(f"project {project.name}: {project.url} branch {project.branch}")
    if secret_env and not os.environ.get(secret_env):
        click.echo(f"warning: ${secret_env} is not set here; set it where the server runs",
                   err=True)


@projects.command("list")
def list_projects() -> None:
    """Every watched project."""
    from trainchain.server import records
    from trainchain.store import Store

    rows = records.list_projects(Store())
    if not rows:
        click.echo("no projects; add one with `trainchain projects add URL`")
    for p in rows:
        poll = f" poll {p.poll_seconds:g}s" if p.poll_seconds else ""
        secret = f" secret ${p.secret_env}" if p.secret_env else " (unsigned)"
        click.echo(f"{p.name}\t{p.url}\tbranch {p.branch}{secret}{poll}")


@projects.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Stop watching project NAME (its runs are kept)."""
    from trainchain.server import records
    from trainchain.store import Store

    records.remove_project(Store(), name)
    click.echo(f"removed project {name}")
