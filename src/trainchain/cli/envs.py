"""``trainchain envs``: the local runtime's virtualenvs."""

from __future__ import annotations

import click

from trainchain.cli.prune import prune_options, resolve_keep_runs, show


@click.group("envs")
def envs() -> None:
    """The local runtime's virtualenvs (one per environment hash)."""


@envs.command("prune")
@prune_options
def prune(keep_runs: int | None, dry_run: bool, min_age: float, as_json: bool) -> None:
    """Remove virtualenvs that neither the newest runs nor any champion use."""
    from trainchain import paths
    from trainchain.retention import prune_envs
    from trainchain.store import Store

    store = Store()
    try:
        report = prune_envs(store, paths.envs_dir(), resolve_keep_runs(keep_runs), dry_run, min_age)
    finally:
        store.engine.dispose()
    show(report, as_json)
