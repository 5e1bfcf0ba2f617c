"""`trainchain stage NAME`: one job of the chain per process (Jenkins job1..job6).

``stage fetch --source URL --ref SHA`` creates the run and prints only its id; the others take
``--run RUN_ID``. Exit codes: 0 done, 1 failed, 3 (tune/promote/monitor) below the target, so
Jenkins can mark the build unstable and still run the next job.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from trainchain.stages import Stage
from trainchain.states import RunStatus

if TYPE_CHECKING:
    from trainchain.pipeline import Pipeline


@click.command()
@click.argument("name", type=click.Choice([s.value for s in Stage]))
@click.option("--run", "run_id", help="The run, as printed by `trainchain stage fetch`.")
@click.option("--source", help="fetch only: repository URL or path.")
@click.option("--ref", help="fetch only: commit, branch or tag.")
@click.option("--branch", help="fetch only: the branch the commit was pushed to.")
@click.option(
    "--trigger", default="jenkins", show_default=True, help="fetch only: what started the run."
)
@click.option("--json", "as_json", is_flag=True, help="Print the run report after the stage.")
@click.pass_context
def stage(
    ctx: click.Context,
    name: str,
    run_id: str | None,
    source: str | None,
    ref: str | None,
    branch: str | None,
    trigger: str,
    as_json: bool,
) -> None:
    """Run one stage NAME of a run against the shared database (TRAINCHAIN_DB_URL)."""
    from trainchain.cli.view import ProgressView
    from trainchain.pipeline import Pipeline

    view = ProgressView("quiet")
    pipeline = Pipeline(progress=view)
    chosen = Stage(name)
    if chosen == Stage.FETCH:
        if not source:
            raise click.UsageError("stage fetch needs --source URL (and usually --ref SHA)")
        if run_id is None:
            run_id = pipeline.create_run(source, ref=ref, trigger=trigger, branch=branch)
    elif not run_id:
        raise click.UsageError(
            f"stage {name} needs --run RUN_ID (printed by `trainchain stage fetch`)"
        )
    run_id = pipeline.store.get_run(run_id).id
    outcome = pipeline.execute(run_id, only=chosen)
    if chosen == Stage.FETCH and outcome.exit_code == 0:
        click.echo(run_id)
    elif as_json:
        click.echo(json.dumps(outcome.report.to_dict(), indent=2, default=str))
    code = outcome.exit_code
    if (
        chosen in (Stage.TUNE, Stage.PROMOTE)
        and code == 0
        and outcome.report.status != RunStatus.FAILED
    ):
        code = _below_target(pipeline, run_id)
    ctx.exit(code)


def _below_target(pipeline: Pipeline, run_id: str) -> int:
    """3 when no completed trial has reached the target yet (Jenkins: unstable)."""
    from trainchain.trials import metrics as M

    run = pipeline.store.get_run(run_id)
    config = pipeline.config(run)
    best = M.best_trial(pipeline.store.trials(run_id), run.metric_name, config.goal)
    return 0 if best is not None and M.reaches(best.value, config.target, config.goal) else 3
