"""``trainchain envs prune`` / ``trainchain images prune``: shared options and output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from trainchain.retention import PruneReport

F = TypeVar("F", bound=Callable[..., Any])


def prune_options(fn: F) -> F:
    """``--keep-runs``, ``--dry-run``, ``--min-age``, ``--json``."""
    fn = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")(fn)
    fn = click.option(
        "--min-age",
        type=click.FloatRange(min=0),
        default=3600.0,
        show_default=True,
        help="Seconds: anything younger stays (a run provisioning now has not recorded it yet).",
    )(fn)
    fn = click.option(
        "--dry-run", is_flag=True, help="Show what would go and how much it frees; remove nothing."
    )(fn)
    fn = click.option(
        "--keep-runs",
        type=click.IntRange(min=1),
        default=None,
        help="Keep what the newest N runs used (default $TRAINCHAIN_KEEP_RUNS, else 20); "
        "every champion's and every queued or running run's are kept too.",
    )(fn)
    return fn


def resolve_keep_runs(keep_runs: int | None) -> int:
    from trainchain.retention import DEFAULT_KEEP_RUNS, keep_runs_setting

    return keep_runs or keep_runs_setting() or DEFAULT_KEEP_RUNS


def show(report: PruneReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    verb = "would remove" if report.dry_run else "removed"
    for item in report.going:
        click.echo(f"{verb} {item.name}  {item.size / 1e9:.2f} GB")
    for item in report.items:
        if item.keep:
            click.echo(f"kept {item.name}  ({item.keep})")
    for name, why in report.failed.items():
        click.echo(f"could not remove {name}: {why}", err=True)
    click.echo(
        f"{verb} {len(report.going)} {report.kind}, {report.freed / 1e9:.2f} GB "
        f"(keeping what the newest {report.keep_runs} runs and every champion use)"
    )
