"""A declarative `Jenkinsfile` with the chain's six stages, for teams on Pipeline jobs.

The skeleton is `templates/Jenkinsfile.tmpl`; the stage blocks are built here from the same
``CHAIN`` table as `jobs.yaml`, so both exports always agree on commands and exit codes.
"""

from __future__ import annotations

from trainchain.jenkins.chain import (
    CHAIN,
    TARGET_NOT_REACHED_EXIT,
    ChainJob,
    fetch_command,
    stage_command,
)
from trainchain.jenkins.options import ExportOptions
from trainchain.jenkins.render import render_template

_INDENT = " " * 8  # stages sit two levels deep: pipeline { stages { ... } }


def render_jenkinsfile(options: ExportOptions) -> str:
    agent = f"{{ label {_groovy(options.label)} }}" if options.label else "any"
    return render_template(
        "Jenkinsfile.tmpl",
        repo=options.repo,
        branch=options.branch,
        unstable_exit=str(TARGET_NOT_REACHED_EXIT),
        agent=agent,
        triggers=_indent(_triggers(options), 8),
        environment=_indent(_environment(options), 4),
        stages="\n".join(_stage(job, options) for job in CHAIN),
    )


def _triggers(options: ExportOptions) -> str:
    lines = ["githubPush()"]
    if options.poll:
        lines.append(f"pollSCM({_groovy(options.poll)})")
    return "\n".join(lines)


def _environment(options: ExportOptions) -> str:
    if not options.db_url_credentials_id:
        return "// TRAINCHAIN_DB_URL and TRAINCHAIN_HOME come from the agent's environment."
    credential = _groovy(options.db_url_credentials_id)
    return "\n".join(
        [
            "environment {",
            "    // A secret text credential: the database URL never appears in the build log.",
            f"    TRAINCHAIN_DB_URL = credentials({credential})",
            "}",
        ]
    )


def _stage(job: ChainJob, options: ExportOptions) -> str:
    lines = [f"stage({_groovy(job.stage)}) {{"]
    label = job.label(options)
    if label and label != options.label:
        lines.append(f"    agent {{ label {_groovy(label)} }}")
    lines.append("    steps {")
    lines += ["        " + line for line in _steps(job, options)]
    lines += ["    }", "}"]
    return _indent("\n".join(lines), len(_INDENT))


def _steps(job: ChainJob, options: ExportOptions) -> list[str]:
    if job.number == 1:
        return _fetch_steps(options)
    command = _groovy(stage_command(job))
    if job.unstable_exit is None:
        return [f"sh {command}"]
    then = "the chain goes on" if job.number < len(CHAIN) else "the best model is registered"
    return [
        "script {",
        f"    int rc = sh(returnStatus: true, script: {command})",
        f"    if (rc == {job.unstable_exit}) {{",
        f"        unstable('trainchain stage {job.stage}: target not reached "
        f"(exit {job.unstable_exit}); {then}')",
        "    } else if (rc != 0) {",
        f'        error("trainchain stage {job.stage} failed (exit ${{rc}})")',
        "    }",
        "}",
    ]


def _fetch_steps(options: ExportOptions) -> list[str]:
    fetch = f"env.RUN_ID = sh(returnStdout: true, script: {_groovy(fetch_command(options))}).trim()"
    body = [
        "// Only the run id is printed on stdout; every later stage reads it as RUN_ID.",
        fetch,
    ]
    if options.credentials_id and options.uses_ssh:
        # `stage fetch` clones the repository itself: lend it the job's SSH key.
        body = (
            [f"sshagent(credentials: [{_groovy(options.credentials_id)}]) {{"]
            + ["    " + line for line in body]
            + ["}"]
        )
    return [
        "script {",
        "    def scmVars = checkout scm",
        '    withEnv(["GIT_URL=${scmVars.GIT_URL}", "GIT_COMMIT=${scmVars.GIT_COMMIT}"]) {',
        *["        " + line for line in body],
        "    }",
        "    if (!env.RUN_ID) {",
        "        error('trainchain stage fetch printed no run id')",
        "    }",
        "}",
        'echo "trainchain run ${env.RUN_ID}"',
    ]


def _groovy(value: str) -> str:
    """A single-quoted Groovy string (no interpolation: the shell expands $VARS)."""
    if "'" in value or "\\" in value or "\n" in value:
        # Every value reaching here went through options.py's allow-lists.
        raise ValueError(f"cannot quote {value!r} as a Groovy string")
    return f"'{value}'"


def _indent(text: str, width: int) -> str:
    pad = " " * width
    return "\n".join(pad + line if line else line for line in text.splitlines())
