"""`trainchain revive`: resume runs whose controller died (``trainchain monitor``, its old
name, still works)."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from trainchain.runtimes.docker import DockerRuntime


@click.command()
@click.option(
    "--once", is_flag=True, help="One pass over runs left running, then wait for the resumes."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Seconds between passes when watching.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0.0),
    default=5.0,
    show_default=True,
    help="Seconds an attempt's process must stay gone before its run counts as orphaned "
    "(runs without a controller lock only).",
)
@click.option(
    "--max-resumes",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Resumes of one run before the reviver gives up on it.",
)
@click.option(
    "--docker/--no-docker",
    "use_docker",
    default=None,
    help="Also ask the Docker engine (liveness, die events) [default: when an engine answers].",
)
@click.option("--json", "as_json", is_flag=True, help="With --once: print the outcome as JSON.")
def revive(
    once: bool,
    interval: float,
    grace: float,
    max_resumes: int,
    use_docker: bool | None,
    as_json: bool,
) -> None:
    """Find runs whose controller died (kill -9, a lost machine) and resume them from their
    checkpoints; with Docker, react at once when a trial container dies abnormally.

    A run counts as orphaned when no live process holds its controller lock, or (runs without
    one) when an attempt is still marked running but its process or container is gone.
    """
    from trainchain.reviver import Reviver
    from trainchain.runtimes.local import LocalRuntime
    from trainchain.store import Store

    docker = _docker(use_docker)

    def say(line: str) -> None:
        if not as_json:
            click.echo(line, err=True)

    runtimes = [LocalRuntime(), *([docker] if docker is not None else [])]
    reviver = Reviver(Store(), runtimes, grace=grace, max_resumes=max_resumes, say=say)
    try:
        if once:
            orphans = reviver.pass_once()
            reviver.resumer.wait()
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "resumed": [
                                {
                                    "run_id": o.run_id,
                                    "reason": o.reason,
                                    "exit_code": reviver.resumer.results.get(o.run_id),
                                }
                                for o in orphans
                            ]
                        },
                        indent=2,
                    )
                )
            elif not orphans:
                click.echo("no orphaned run", err=True)
            return
        say(
            f"watching (pass every {interval:g}s{', Docker events' if docker else ''}); "
            "Ctrl-C stops"
        )
        stop = threading.Event()
        try:
            reviver.watch(interval, stop)
        except KeyboardInterrupt:
            stop.set()
            say("stopped; runs being resumed go on in their own processes")
    finally:
        if docker is not None:
            docker.close()


def _docker(wanted: bool | None) -> DockerRuntime | None:
    """The Docker runtime when wanted (or when an engine answers, by default)."""
    if wanted is False:
        return None
    from trainchain.errors import RuntimeUnavailableError

    try:
        from trainchain.runtimes.docker import DockerRuntime, connect

        return DockerRuntime(connect(timeout=10))
    except (RuntimeUnavailableError, ImportError):
        if wanted:
            raise
        return None


# the old name, kept for scripts and cron entries written before the rename
monitor = click.Command(
    "monitor",
    callback=revive.callback,
    params=revive.params,
    help=f"Alias of `trainchain revive`. {revive.help}",
)
