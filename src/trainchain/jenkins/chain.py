"""The six jobs of the chain as data, shared by the JJB YAML and the Jenkinsfile.

Derived from the one declaration of the stages, ``pipeline.STAGES`` (order, where a stage
needs Docker, which stage exits 3 below the target); this module adds only how Jenkins starts
each job (`trainchain stage <name>`) and its description.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from trainchain.errors import TargetNotReachedError
from trainchain.jenkins.options import ExportOptions
from trainchain.pipeline import STAGES
from trainchain.stages import Stage

# `trainchain stage tune|promote|monitor` exit with this code when the run is below the target.
# Jenkins shows it as UNSTABLE (yellow) and the chain goes on: promote still registers the best.
TARGET_NOT_REACHED_EXIT = TargetNotReachedError.exit_code

RUN_ID_FILE = "trainchain-run.properties"


@dataclass(frozen=True)
class ChainJob:
    number: int
    stage: str  # the `trainchain stage` subcommand
    summary: str
    needs_docker: bool  # builds images or runs trial containers
    unstable_exit: int | None = None  # exit code reported as UNSTABLE instead of FAILURE

    def job_name(self, options: ExportOptions) -> str:
        return f"{options.name}-job{self.number}-{self.stage}"

    def label(self, options: ExportOptions) -> str | None:
        """The agent label this job is tied to, or None for any agent."""
        if self.needs_docker and options.docker_label:
            return options.docker_label
        return options.label


SUMMARIES = {
    Stage.FETCH: "clone the pushed commit and create the run",
    Stage.DETECT: "detect what the code needs and provision its image",
    Stage.TRAIN: "train the baseline with the script's own defaults",
    Stage.TUNE: "tune with Optuna until the target metric",
    Stage.PROMOTE: "register the best model and notify",
    Stage.MONITOR: "restart crashed trainings and close the run",
}
CHAIN: tuple[ChainJob, ...] = tuple(
    ChainJob(
        number,
        spec.stage.value,
        SUMMARIES[spec.stage],
        needs_docker=spec.needs_docker,
        # monitor ends the run, so it too exits 3 when the run finished below the target
        unstable_exit=TARGET_NOT_REACHED_EXIT if spec.reports_target else None,
    )
    for number, spec in enumerate(STAGES, start=1)
)


def fetch_command(options: ExportOptions) -> str:
    """The command of job1; it prints only the run id. The git plugin sets $GIT_URL/$GIT_COMMIT."""
    branch = shlex.quote(options.branch)
    return f'trainchain stage fetch --source "$GIT_URL" --ref "$GIT_COMMIT" --branch {branch}'


def stage_command(job: ChainJob) -> str:
    """The command of job2..job6 for the run whose id Jenkins passed as $RUN_ID."""
    return f'trainchain stage {job.stage} --run "$RUN_ID"'


def trigger_condition(job: ChainJob) -> str:
    """When `job` starts the next one (parameterized-trigger plugin condition names)."""
    return "UNSTABLE_OR_BETTER" if job.unstable_exit is not None else "SUCCESS"


def freestyle_script(job: ChainJob, options: ExportOptions) -> str:
    """The shell builder of a freestyle job (Jenkins runs it with `sh -xe`).

    No braces: JJB formats every string of a job as a template, so `${X}` would be read as a
    JJB parameter.
    """
    if job.number == 1:
        return "\n".join(
            [
                "# The run id is the only thing `stage fetch` prints; later jobs get it as RUN_ID.",
                f"rm -f {RUN_ID_FILE}",
                f'RUN_ID="$({fetch_command(options)})"',
                'if [ -z "$RUN_ID" ]; then echo "trainchain stage fetch printed no run id" >&2; '
                "exit 1; fi",
                f'echo "RUN_ID=$RUN_ID" > {RUN_ID_FILE}',
                "",
            ]
        )
    if job.stage == "monitor":
        return "\n".join(
            [
                "# Started by job5 with a RUN_ID: supervise that run, then close it (exit "
                f"{job.unstable_exit} = finished below the target: UNSTABLE).",
                "# Started by the timer (RUN_ID empty): one pass over every trial container.",
                'if [ -n "$RUN_ID" ]; then',
                f"  {stage_command(job)}",
                "else",
                "  trainchain revive --once",
                "fi",
                "",
            ]
        )
    lines = [
        'if [ -z "$RUN_ID" ]; then echo "RUN_ID is empty: the chain starts at job1, which '
        'passes it on" >&2; exit 1; fi'
    ]
    if job.unstable_exit is not None:
        lines.append(
            f"# exit {job.unstable_exit} = target not reached: UNSTABLE, and the chain goes on"
        )
    lines.append(stage_command(job))
    return "\n".join(lines) + "\n"
