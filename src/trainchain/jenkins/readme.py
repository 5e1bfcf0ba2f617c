"""`README.md` for the Jenkins side of an export: plugins, webhook, database, Docker agents."""

from __future__ import annotations

from trainchain.jenkins.chain import CHAIN, TARGET_NOT_REACHED_EXIT, trigger_condition
from trainchain.jenkins.jobs import view_name
from trainchain.jenkins.options import ExportOptions
from trainchain.jenkins.render import render_template

# plugin id -> what it is needed for
_PLUGINS: tuple[tuple[str, str], ...] = (
    ("git", "job1 clones the repository (and sets $GIT_URL, $GIT_COMMIT)"),
    ("github", "the push trigger and the `/github-webhook/` endpoint"),
    ("parameterized-trigger", "each job starts the next one with `RUN_ID`"),
    ("build-pipeline-plugin", "the Build Pipeline view of job1..job6"),
    ("credentials-binding", "`TRAINCHAIN_DB_URL` from a secret text credential"),
    ("timestamper", "timestamps in the build logs"),
    ("workflow-aggregator", "only for the `Jenkinsfile` (Pipeline jobs)"),
    ("pipeline-stage-view", "only for the `Jenkinsfile`: the stage view"),
)
_SSH_PLUGIN = ("ssh-agent", "`trainchain stage fetch` clones over SSH with the job's key")


def render_readme(options: ExportOptions) -> str:
    return render_template(
        "README.md.tmpl",
        repo=options.repo,
        branch=options.branch,
        unstable_exit=str(TARGET_NOT_REACHED_EXIT),
        monitor_timer=options.monitor_timer,
        job_table=_job_table(options),
        plugin_list=_plugin_list(options),
        view_name=view_name(options),
        first_job=CHAIN[0].job_name(options),
        poll_note=_poll_note(options),
        credentials_list=_credentials_list(options),
        pipeline_credentials=(
            f" and credentials `{options.credentials_id}`" if options.credentials_id else ""
        ),
        db_note=(
            f" with id `{options.db_url_credentials_id}` (bound to `TRAINCHAIN_DB_URL` in each job)"
            if options.db_url_credentials_id
            else " and exported with `--db-url-credentials-id ID`"
        ),
        docker_note=_docker_note(options),
    )


def _job_table(options: ExportOptions) -> str:
    rows = ["| job | runs | on agents | starts the next job |", "|---|---|---|---|"]
    for job in CHAIN:
        command = "trainchain stage " + job.stage + (" --run $RUN_ID" if job.number > 1 else "")
        following = "-" if job.number == len(CHAIN) else f"on {trigger_condition(job)}"
        rows.append(
            f"| `{job.job_name(options)}` | `{command}` ({job.summary}) "
            f"| {job.label(options) or 'any'} | {following} |"
        )
    return "\n".join(rows)


def _plugin_list(options: ExportOptions) -> str:
    plugins = list(_PLUGINS)
    if options.credentials_id and options.uses_ssh:
        plugins.append(_SSH_PLUGIN)
    return "\n".join(f"- `{plugin}`: {why}" for plugin, why in plugins)


def _poll_note(options: ExportOptions) -> str:
    if not options.poll:
        return 'Polling is off (`--poll ""`): a lost webhook delivery means a missed push.'
    return (
        f"job1 also polls the repository (`{options.poll}`), so a push whose webhook delivery "
        "was lost still starts the chain."
    )


def _credentials_list(options: ExportOptions) -> str:
    lines = []
    if options.credentials_id:
        lines.append(f"- `{options.credentials_id}`: read access to `{options.repo}` (git SCM).")
    else:
        lines.append("- no git credentials: the repository must be readable anonymously.")
    if options.db_url_credentials_id:
        lines.append(
            f"- `{options.db_url_credentials_id}`: secret text holding `TRAINCHAIN_DB_URL`."
        )
    if options.credentials_id and not options.uses_ssh:
        lines.append(
            "- `trainchain stage fetch` clones the repository itself, over HTTPS: give the "
            "agents a git credential helper for this host."
        )
    return "\n".join(lines)


def _docker_note(options: ExportOptions) -> str:
    docker_jobs = ", ".join(f"job{job.number}" for job in CHAIN if job.needs_docker)
    if options.docker_label:
        return (
            f"{docker_jobs} (provision, train, tune, monitor) run only on agents labelled "
            f"`{options.docker_label}`; give that label to the agents that have a Docker engine."
        )
    return (
        f"{docker_jobs} build images and run trial containers. To keep them on agents with a "
        "Docker engine, label those agents (e.g. `docker`) and export again with "
        "`--docker-label docker`."
    )
