"""`trainchain runs list|show|logs`."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trainchain.states import OutcomeKind

PIPE_WIDTH = 120
# outcomes whose reason the table leaves out: none, or the warning line printed below the table
QUIET_OUTCOMES = (OutcomeKind.SUCCEEDED, OutcomeKind.SUCCEEDED_WITH_ERROR)


@click.group()
def runs() -> None:
    """List and inspect runs, their trials, attempts and logs."""


@runs.command("list")
@click.option("--limit", default=20, show_default=True, help="How many of the newest runs.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def list_runs(limit: int, as_json: bool) -> None:
    """The newest runs, one line each."""
    from trainchain.store import Store

    rows = Store().runs(limit)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "run_id": r.id,
                        "status": r.status,
                        "source": r.source,
                        "commit": r.commit,
                        "created_at": r.created_at.isoformat(),
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    table = Table("run", "status", "source", "commit", "profile", "metric", "model", "created")
    for r in rows:
        table.add_row(
            r.id,
            r.status,
            r.source,
            (r.commit or "")[:12],
            r.profile or "",
            r.metric_name or "",
            f"{r.name} v{r.model_version}" if r.model_version else "",
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    Console().print(table)


@runs.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="The run report as JSON.")
def show(run_id: str, as_json: bool) -> None:
    """Stages, trials with their attempts, the best result and notifications of RUN_ID."""
    from trainchain.pipeline import Pipeline

    pipeline = Pipeline()
    report = pipeline.report(pipeline.store.get_run(run_id).id)
    notes = pipeline.store.notifications(report.run_id)
    if as_json:
        data = report.to_dict()
        data["notifications"] = [
            {
                "channel": n.channel,
                "event": n.event,
                "ok": n.ok,
                "attempts": n.attempts,
                "error": n.error,
            }
            for n in notes
        ]
        click.echo(json.dumps(data, indent=2, default=str))
        return
    # a pipe (a CI log, a script) gets 120 columns, not Rich's 80: outcome words stay whole
    out = Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)
    out.print(
        f"[bold]run {report.run_id}[/] {report.status}  "
        f"source {report.source} @ {report.commit or '-'}"
        f"  profile {report.profile or '-'}"
    )
    out.print("stages: " + "  ".join(f"{k}={v}" for k, v in report.stages.items()))
    out.print(
        f"metric {report.metric.name} ({report.metric.goal}, target {report.metric.target:g})"
    )
    table = Table("trial", "state", "value", "best epoch", "params", "attempts")
    for t in report.trials:
        attempts = "; ".join(
            f"#{a.number} {a.outcome}"
            + (f" epochs {a.first_epoch}-{a.last_epoch}" if a.first_epoch else "")
            + (f" ({a.reason})" if a.reason and a.outcome not in QUIET_OUTCOMES else "")
            + (" [yellow]warning[/]" if a.outcome == "succeeded_with_error" else "")
            for a in t.attempts
        )
        table.add_row(
            str(t.number),
            t.state,
            "" if t.value is None else f"{t.value:.4f}",
            _best_epoch(t.best_epoch, t.early_stop),
            ", ".join(f"{k}={v}" for k, v in t.params.items()),
            attempts,
        )
    out.print(table)
    for t in report.trials:
        if t.probe:
            out.print(f"probe (trial {t.number}): {escape(t.probe)}")
        if t.warning:
            out.print(f"[yellow]warning (trial {t.number}): {escape(t.warning)}[/]")
        for change in t.adjusted:
            out.print(
                f"adjusted (trial {t.number}): {change['argument']} {change['from']} -> "
                f"{change['to']}: {escape(str(change['why']))}"
            )
    if report.model:
        out.print(
            f"model {report.model.name} v{report.model.version} {report.model.aliases} "
            f"{report.model.path}"
        )
    for n in notes:
        out.print(
            f"notify {n.channel} {n.event}: {'sent' if n.ok else 'FAILED ' + (n.error or '')}"
        )
    if report.error:
        out.print(f"[red]error ({report.failed_stage}): {escape(report.error or '')}[/]")


def _best_epoch(best: dict[str, Any] | None, stop: dict[str, Any] | None) -> str:
    """``3 (val_accuracy 0.9712)``, plus ``stopped at 6`` when fit ended early."""
    if not best:
        return ""
    text = f"{best.get('epoch')} ({best.get('metric')} {float(best.get('value') or 0):.4f})"
    return text + (f", stopped at {stop.get('epoch')}" if stop else "")


@runs.command()
@click.argument("run_id")
@click.option("--trial", type=int, help="One trial's output (default: every trial).")
def logs(run_id: str, trial: int | None) -> None:
    """The training output of RUN_ID's trials, attempt by attempt."""
    from trainchain import paths
    from trainchain.pipeline import Pipeline
    from trainchain.trials.workspace import trial_dirs

    pipeline = Pipeline()
    run = pipeline.store.get_run(run_id)
    numbers = [trial] if trial is not None else [t.number for t in pipeline.store.trials(run.id)]
    if trial is not None and pipeline.store.trial(run.id, trial) is None:
        raise click.BadParameter(f"run {run.id} has no trial {trial}", param_hint="--trial")
    for number in numbers:
        dirs = trial_dirs(paths.run_dir(run.id, paths.storage_of(run.options)), number)
        for log_file in sorted(dirs.root.glob("attempt-*.log")):
            click.echo(f"===== trial {number} {log_file.stem} =====")
            click.echo(log_file.read_text(encoding="utf-8", errors="replace"))
