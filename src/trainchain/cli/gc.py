"""``trainchain gc``: remove old runs' work trees and logs (never a champion's)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--keep-runs",
    type=click.IntRange(min=1),
    default=None,
    help="Keep the newest N runs' files (default $TRAINCHAIN_KEEP_RUNS, else 20).",
)
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Days: only runs older than this go.",
)
@click.option("--dry-run", is_flag=True, help="List what would go; remove nothing.")
def gc(keep_runs: int | None, older_than: float, dry_run: bool) -> None:
    """Remove the files of old runs (source snapshots, trial work trees, outputs, logs).

    Queued and running runs, the newest runs and every run behind a model alias stay; the
    database records and the registry's model files always stay."""
    from trainchain.gc import DEFAULT_KEEP_RUNS, collect, keep_runs_setting
    from trainchain.store import Store

    keep = keep_runs or keep_runs_setting() or DEFAULT_KEEP_RUNS
    report = collect(Store(), keep, older_than, dry_run)
    verb = "would remove" if dry_run else "removed"
    for run_id in report.removed:
        click.echo(f"{verb} run {run_id}")
    click.echo(
        f"{verb} the files of {len(report.removed)} run(s), {report.freed / 1e6:.1f} MB; "
        f"kept {len(report.kept)}"
    )
