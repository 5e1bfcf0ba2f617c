"""``trainchain detect PATH``: what a project needs, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command("detect")
@click.argument("path", type=click.Path(path_type=Path), default=Path("."))
@click.option("--json", "as_json", is_flag=True, help="Print the detection as one JSON object.")
@click.option(
    "--space",
    "with_space",
    is_flag=True,
    help='With --json: add the derived search space under "space".',
)
@click.option(
    "--entrypoint",
    default=None,
    help="Script or notebook to train (overrides entrypoint: in trainchain.yaml).",
)
def detect(path: Path, as_json: bool, with_space: bool, entrypoint: str | None) -> None:
    """Show what the project at PATH needs: profile, entrypoint, parameters, search space."""
    from trainchain.config import ParamSpec, load_config
    from trainchain.profiles import detect as run_detect
    from trainchain.profiles import search_space
    from trainchain.space import space_from_config

    config = load_config(path)  # the whole file, checked as `trainchain run` checks it
    declared_params = {
        name: spec.model_dump()
        for name, spec in config.params.items()
        if isinstance(spec, ParamSpec)
    }
    result = run_detect(path, entrypoint or config.entrypoint, declared_params or None)
    space = search_space(result)
    if declared_params:  # as job2 does: declared ranges override the derived ones
        space = {**space, **space_from_config(declared_params)}
    if as_json:
        data = result.to_dict()
        if with_space:
            data["space"] = space
        click.echo(json.dumps(data, indent=2, default=str))
        return
    _render(result, space, bool(declared_params))


def _render(result: Any, space: dict[str, dict[str, Any]], declared: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from trainchain.profiles import env_packages
    from trainchain.space import describe

    console = Console()
    console.print(
        f"[bold]profile[/bold]     {result.profile}  [dim]({result.profile_reason})[/dim]"
    )
    console.print(
        f"[bold]entrypoint[/bold]  {result.entrypoint}  [dim]({result.entrypoint_reason})[/dim]"
    )
    facts = "".join(
        f"   [bold]{key}[/bold] {value}"
        for key, value in result.framework_facts.items()
        if not isinstance(value, dict)
    )
    console.print(
        f"[bold]framework[/bold]   {result.framework}   [bold]model family[/bold] "
        f"{result.model_family}{facts}"
    )
    packages = env_packages(result.profile, result.env_imports)
    console.print(f"[bold]environment[/bold] {' '.join(packages) or '(project requirements only)'}")
    if result.requirements:
        console.print(f"[bold]requirements[/bold] {' '.join(result.requirements)}")
    params = Table(title="parameters", title_justify="left")
    for column in ("name", "source", "type", "default", "where", "flows into", "notes"):
        params.add_column(column)
    for p in result.parameters:
        notes = ", ".join(
            filter(
                None,
                [
                    f"choices {list(p.choices)}" if p.choices else "",
                    "required" if p.required else "",
                    f"flag {p.flag}" if p.flag else "",
                    f"prompt {p.prompt!r}" if p.prompt else "",
                ],
            )
        )
        where = f"{p.file}:{p.line}" if p.line else p.file
        params.add_row(
            p.name, p.source, p.type, repr(p.default), where, ", ".join(p.flows_into), notes
        )
    console.print(params if result.parameters else "[dim]no parameters found[/dim]")
    title = (
        "search space (derived; params: of trainchain.yaml override)"
        if declared
        else ("search space (derived)")
    )
    table = Table(title=title, title_justify="left")
    for column in ("name", "type"):
        table.add_column(column, no_wrap=True)
    table.add_column("range")  # choices of a categorical wrap; names stay whole
    table.add_column("where the bounds come from", ratio=1)
    for name, spec in space.items():
        table.add_row(name, spec["type"], describe(spec), spec.get("why") or "trainchain.yaml")
    console.print(table)
    evidence = Table(title="evidence", title_justify="left")
    for column in ("where", "symbol", "why"):
        evidence.add_column(column)
    for item in result.evidence:
        evidence.add_row(
            f"{item.file}:{item.line}" if item.line else item.file, item.symbol, item.why
        )
    console.print(evidence)
    if result.inputs:
        inputs = Table(
            title="inputs the repository lacks (give them before running)", title_justify="left"
        )
        for column in ("path", "read by", "where", "fix"):
            inputs.add_column(column)
        for i in result.inputs:
            inputs.add_row(i.path, i.call, f"{i.file}:{i.line}", i.hint)
        console.print(inputs)
    if result.downloads:
        from trainchain import paths

        cache = paths.datasets_dir()
        downloads = Table(title=f"run-time downloads (dataset cache {cache})", title_justify="left")
        for column in ("dataset", "call", "where", "cached as"):
            downloads.add_column(column)
        for d in result.downloads:
            files = ", ".join(d.files) if d.files else "(the library's layout)"
            downloads.add_row(d.dataset, d.call, f"{d.file}:{d.line}", f"{d.cache}/: {files}")
        console.print(downloads)
    if result.skipped:
        skipped = Table(title="skipped files (do not parse)", title_justify="left")
        skipped.add_column("where")
        skipped.add_column("error")
        for s in result.skipped:
            skipped.add_row(f"{s.file}:{s.line}" if s.line else s.file, s.error)
        console.print(skipped)
