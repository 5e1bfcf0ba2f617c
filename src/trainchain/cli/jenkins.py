"""`trainchain jenkins export`: write the chain as Jenkins jobs (JJB YAML, Jenkinsfile, README)."""

from __future__ import annotations

from pathlib import Path

import click

from trainchain.errors import TrainchainError, UsageError


@click.group("jenkins")
def jenkins() -> None:
    """Export the chain as Jenkins jobs."""


@jenkins.command("export")
@click.option("--repo", required=True, help="Git URL Jenkins clones (https://..., git@host:...).")
@click.option("--branch", default="main", show_default=True, help="Branch whose pushes train.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("jenkins"),
    show_default=True,
    help="Directory for jobs.yaml, Jenkinsfile and README.md (overwritten).",
)
@click.option("--name", default=None, help="Job name prefix [default: from the repository name].")
@click.option("--credentials-id", default=None, help="Jenkins credentials id for the git clone.")
@click.option(
    "--label",
    default=None,
    help="Agent label for the jobs [default: any agent]; see --docker-label.",
)
@click.option(
    "--docker-label",
    default=None,
    help="Agent label for the jobs that run Docker (detect, train, tune, monitor).",
)
@click.option(
    "--poll",
    default="H/5 * * * *",
    show_default=True,
    help='pollSCM fallback for lost webhooks; "" turns polling off.',
)
@click.option(
    "--monitor-timer",
    default="H/15 * * * *",
    show_default=True,
    help="How often job6 checks every trial container.",
)
@click.option(
    "--db-url-credentials-id",
    default=None,
    help="Secret text credential bound to TRAINCHAIN_DB_URL in every job.",
)
@click.option(
    "--no-validate",
    is_flag=True,
    help="Write jobs.yaml without checking it with jenkins-job-builder (the 'jenkins' extra).",
)
def export(
    repo: str,
    branch: str,
    out_dir: Path,
    name: str | None,
    credentials_id: str | None,
    label: str | None,
    docker_label: str | None,
    poll: str,
    monitor_timer: str,
    db_url_credentials_id: str | None,
    no_validate: bool,
) -> None:
    """Write jobs.yaml (jenkins-job-builder), a Jenkinsfile and a README into --out."""
    # Imported here so `trainchain --help` does not load PyYAML.
    from trainchain.jenkins import export_chain, make_options

    try:
        options = make_options(
            repo=repo,
            branch=branch,
            name=name,
            credentials_id=credentials_id,
            label=label,
            docker_label=docker_label,
            poll=poll,
            monitor_timer=monitor_timer,
            db_url_credentials_id=db_url_credentials_id,
        )
        result = export_chain(options, out_dir, validate=not no_validate)
    except UsageError as exc:
        raise click.UsageError(exc.message) from exc
    except TrainchainError as exc:
        error = click.ClickException(exc.message)
        error.exit_code = exc.exit_code
        raise error from exc
    for path in result.files:
        click.echo(f"wrote {path}")
    click.echo(f"jobs: {', '.join(result.job_names)}; view: {result.view_name}")
    click.echo(
        f"next: jenkins-jobs --conf jenkins_jobs.ini update {result.out_dir / 'jobs.yaml'}"
        f"  (see {result.out_dir / 'README.md'})"
    )
