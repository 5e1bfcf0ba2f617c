"""The command line. The only place that prints and exits.

Commands live one module per group in this package and are imported only when used, so
``trainchain --help`` stays fast (no optuna, sqlalchemy or keras at start-up).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from trainchain import __version__

# command name -> (module, attribute, one-line help shown by --help without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": (
        "trainchain.cli.run",
        "run",
        "Run the chain on a source: fetch, detect, train, tune, promote.",
    ),
    "resume": (
        "trainchain.cli.run",
        "resume",
        "Continue an interrupted run from its first unfinished stage.",
    ),
    "detect": (
        "trainchain.cli.detect",
        "detect",
        "Show what a project needs: profile, entrypoint, parameters, evidence.",
    ),
    "runs": ("trainchain.cli.runs", "runs", "List and inspect runs, their trials and logs."),
    "models": (
        "trainchain.cli.models",
        "models",
        "The model registry: versions, aliases, downloads.",
    ),
    "stage": (
        "trainchain.cli.stage",
        "stage",
        "Run one job of the chain against the shared database (for Jenkins).",
    ),
    "images": (
        "trainchain.cli.images",
        "images",
        "Build, list and prune the training images (Docker).",
    ),
    "envs": ("trainchain.cli.envs", "envs", "Prune the local runtime's virtualenvs."),
    "revive": (
        "trainchain.cli.revive",
        "revive",
        "Resume runs whose controller died, from their checkpoints (was `monitor`).",
    ),
    "monitor": ("trainchain.cli.revive", "monitor", "Old name of `revive` (still works)."),
    "serve": ("trainchain.cli.serve", "serve", "Start the webhook server, REST API and dashboard."),
    "projects": (
        "trainchain.cli.serve",
        "projects",
        "Projects watched by the server (webhooks, polling).",
    ),
    "notify": (
        "trainchain.cli.notify",
        "notify",
        "Send test notifications on the configured channels.",
    ),
    "jenkins": ("trainchain.cli.jenkins", "jenkins", "Export the chain as Jenkins jobs."),
    "gc": ("trainchain.cli.gc", "gc", "Remove old runs' work trees and logs (never a champion's)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command = getattr(module, entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="trainchain")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """trainchain: a push trains, tunes to a target, registers and announces the model."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Entry point: user mistakes end with a message and an exit code, never a traceback."""
    from trainchain import interrupts
    from trainchain.errors import TrainchainError

    interrupts.install()
    try:
        code = cli.main(standalone_mode=False)  # returns ctx.exit()'s code in this mode
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TrainchainError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted; `trainchain resume RUN_ID` continues the run.", err=True)
        sys.exit(130)
    except ModuleNotFoundError as exc:  # an optional import no explicit check caught
        from trainchain.extras import extra_for_module

        extra = extra_for_module(exc.name or "")
        if extra is None:
            raise
        click.echo(
            f"error: {exc.name} is not installed; it comes with the '{extra}' extra: "
            f"pip install 'trainchain[{extra}]'",
            err=True,
        )
        sys.exit(2)
