"""`trainchain models list|show|promote|download`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


def _split(ref: str) -> tuple[str, str | None, int | None]:
    """``NAME``, ``NAME@alias`` or ``NAME:version``."""
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, alias, None
    if ":" in ref:
        name, version = ref.rsplit(":", 1)
        if not version.isdigit():
            raise click.BadParameter(
                f"{ref!r}: the version after ':' must be a number", param_hint="NAME"
            )
        return name, None, int(version)
    return ref, None, None


@click.group()
def models() -> None:
    """The model registry: versions, the champion alias, downloads."""


@models.command("list")
def list_models() -> None:
    """Every model with its latest version and champion."""
    from trainchain.store import Store

    store = Store()
    table = Table("model", "versions", "champion", "metric", "value")
    for name in store.model_names():
        versions = store.model_versions(name)
        champion = store.aliases(name).get("champion")
        champ = next((v for v in versions if v.version == champion), None)
        table.add_row(
            name,
            str(len(versions)),
            f"v{champion}" if champion else "-",
            champ.metric_name if champ else "",
            f"{champ.value:.4f}" if champ else "",
        )
    Console().print(table)


@models.command()
@click.argument("ref", metavar="NAME[@alias|:version]")
@click.option("--json", "as_json", is_flag=True)
def show(ref: str, as_json: bool) -> None:
    """Versions of a model, or one version."""
    from trainchain.errors import NotFoundError
    from trainchain.store import Store

    store = Store()
    name, alias, number = _split(ref)
    versions = store.model_versions(name)
    if not versions:
        raise NotFoundError(f"no model named {name!r}; `trainchain models list` shows the models")
    aliases = store.aliases(name)
    if alias is not None:
        if alias not in aliases:
            raise NotFoundError(
                f"model {name!r} has no alias {alias!r}; it has {sorted(aliases) or 'none'}"
            )
        number = aliases[alias]
    chosen = [v for v in versions if number is None or v.version == number]
    if not chosen:
        raise NotFoundError(f"model {name!r} has no version {number}")
    rows = [
        {
            "name": v.name,
            "version": v.version,
            "aliases": [a for a, n in aliases.items() if n == v.version],
            "metric": v.metric_name,
            "value": v.value,
            "goal": v.goal,
            "params": v.params,
            "run_id": v.run_id,
            "trial": v.trial,
            "commit": v.commit,
            "branch": v.branch,
            "profile": v.profile,
            "path": v.path,
            "data": v.data_fingerprint,
            "created_at": v.created_at.isoformat(),
        }
        for v in chosen
    ]
    if as_json:
        click.echo(json.dumps(rows if number is None else rows[0], indent=2, default=str))
        return
    table = Table("version", "aliases", "metric", "value", "commit", "run", "params")
    for v in chosen:
        table.add_row(
            f"v{v.version}",
            ",".join(a for a, n in aliases.items() if n == v.version),
            v.metric_name,
            f"{v.value:.4f}",
            (v.commit or "")[:12],
            v.run_id,
            ", ".join(f"{k}={x}" for k, x in v.params.items()),
        )
    Console().print(table)


@models.command()
@click.argument("name")
@click.argument("version", type=int)
def promote(name: str, version: int) -> None:
    """Move the champion alias of NAME to VERSION by hand."""
    from trainchain.stages.promote import promote as move
    from trainchain.store import Store

    move(Store(), name, version)
    click.echo(f"{name} champion -> v{version}")


@models.command()
@click.argument("ref", metavar="NAME[@alias|:version]")
@click.option("--out", type=click.Path(path_type=Path), default=Path("."), show_default=True)
def download(ref: str, out: Path) -> None:
    """Copy a version's files (default: the champion) to --out."""
    from trainchain.errors import NotFoundError
    from trainchain.store import Store

    store = Store()
    name, alias, number = _split(ref)
    if number is None:
        number = store.aliases(name).get(alias or "champion")
    version = next((v for v in store.model_versions(name) if v.version == number), None)
    if version is None:
        raise NotFoundError(
            f"no such model version {ref!r}; `trainchain models show {name}` lists them"
        )
    source = Path(version.path)
    folder = source.parent if source.is_file() else source
    dest = out / f"{name}-v{version.version}"
    shutil.copytree(folder, dest, dirs_exist_ok=True)
    click.echo(str(dest))
