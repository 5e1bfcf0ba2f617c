"""``trainchain images``: build and list the training images (Docker)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import click

from trainchain.cli.prune import prune_options, resolve_keep_runs, show
from trainchain.errors import ConfigError, UsageError
from trainchain.runtimes import image_build
from trainchain.runtimes import images as imagelib


@click.group("images")
def images() -> None:
    """Build, list and prune the training images (Docker)."""


@images.command("build")
@click.argument("target", required=False, default=".")
@click.option("--bake", is_flag=True, help="Also copy the project into the image (/app).")
@click.option("--profile", help="Profile for a PATH instead of detecting it.")
@click.option(
    "--base-image",
    help="FROM image (default $TRAINCHAIN_BASE_IMAGE or python:3.11-slim; "
    "scripts/base-image.sh builds trainchain/base:bookworm offline).",
)
@click.option(
    "--ca-certs",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of extra CA .crt files trusted while building (TLS-intercepting proxies), "
    "e.g. /usr/local/share/ca-certificates. Default: none ($TRAINCHAIN_CA_CERTS).",
)
@click.option("--pip-index-url", help="Package index for pip inside the build.")
@click.option(
    "--wheels",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of local wheels pip may use (e.g. the torch CPU wheel).",
)
@click.option("--no-cache", is_flag=True, help="Rebuild every layer.")
@click.option("-q", "--quiet", is_flag=True, help="Show only the build steps, not their output.")
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the full build log to this file.",
)
def build(
    target: str,
    bake: bool,
    profile: str | None,
    base_image: str | None,
    ca_certs: Path | None,
    pip_index_url: str | None,
    wheels: Path | None,
    no_cache: bool,
    quiet: bool,
    log_file: Path | None,
) -> None:
    """Build the image of a PROFILE, or of the project at PATH (default: .).

    Images are tagged by a hash of everything that goes into them; an existing tag is reused
    and nothing is built. For a PATH the profile is detected (or --profile), the project's own
    requirements go into a layer on top, and --bake copies the code into /app.
    """
    from trainchain.runtimes.docker import connect

    env = imagelib.BuildOptions.from_env()
    options = imagelib.BuildOptions(
        base_image=base_image or env.base_image,
        ca_certs=ca_certs or env.ca_certs,
        pip_index_url=pip_index_url or env.pip_index_url,
        wheels=wheels or env.wheels,
    )
    plan = _plan(target, bake, profile, options)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(contextlib.closing(connect()))
        sink = stack.enter_context(open(log_file, "a", encoding="utf-8")) if log_file else None
        built = _build_chain(client, plan, no_cache, quiet, sink)
    verb = "built" if built else "reused (up to date)"
    click.echo(f"{verb} in {time.monotonic() - started:.1f}s", err=True)
    click.echo(plan.tag)


@images.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List trainchain images in the Docker engine."""
    from trainchain.runtimes.docker import connect

    with contextlib.closing(connect()) as client:
        rows = image_build.list_images(client)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no trainchain images; build one with `trainchain images build PROFILE`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("kind", "profile", "size (MB)", "created")
    table.add_column("tag", no_wrap=True)
    for row in rows:
        table.add_row(
            row["tag"], row["kind"], row["profile"], f"{row['size_mb']:.0f}", row["created"][:19]
        )
    Console().print(table)


def _plan(
    target: str, bake: bool, profile: str | None, options: imagelib.BuildOptions
) -> imagelib.ImagePlan:
    from trainchain.profiles import profile_names

    path = Path(target)
    if target in profile_names() and not path.is_dir():
        if bake:
            raise UsageError(f"--bake needs a project directory, got the profile {target!r}")
        return imagelib.profile_plan(target, options)
    if not path.is_dir():
        raise UsageError(
            f"{target!r} is neither a profile ({', '.join(profile_names())}) nor a directory: "
            "pass a profile name or the project's folder"
        )
    chosen, packages, requirements = _detect(path, profile)
    if bake:
        extra = imagelib.env_extras(chosen, packages, requirements)
        return imagelib.project_plan(chosen, extra, path, options)
    return imagelib.env_plan(chosen, packages, requirements, options)


def _detect(path: Path, profile: str | None) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The project's profile and packages, as job2 would choose them."""
    from trainchain.config import load_config

    profile = profile or load_config(path).profile
    try:
        from trainchain.stages.detect import detect_project
    except ImportError as exc:  # the detector is optional here: --profile is enough
        if profile:
            from trainchain.profiles import profile_packages

            return profile, profile_packages(profile), ()
        raise ConfigError(f"cannot detect the profile of {path} ({exc}): pass --profile") from exc
    result = detect_project(path, None, profile, {})
    spec = result.env_spec
    return spec.profile, spec.packages, spec.project_requirements


def _build_chain(
    client: Any, plan: imagelib.ImagePlan, no_cache: bool, quiet: bool, sink: Any
) -> bool:
    """Build the parent (profile image) first when missing; stream every line."""
    built = False
    if plan.parent is not None:
        built = _build_chain(client, plan.parent, False, quiet, sink)
    if not no_cache and image_build.image_exists(client, plan.tag):
        click.echo(f"{plan.tag}: up to date", err=True)
        return built
    for line in image_build.build(client, plan, nocache=no_cache):
        if sink:
            sink.write(line + "\n")
        if not quiet or line.startswith(("Step ", "building ", "Successfully")):
            click.echo(line, err=True)
    return True


@images.command("prune")
@prune_options
@click.option("--match", help="Only tags matching this glob, e.g. 'trainchain/baked-*'.")
def prune(
    keep_runs: int | None, dry_run: bool, min_age: float, as_json: bool, match: str | None
) -> None:
    """Remove trainchain images that neither the newest runs nor any champion use, and the
    untagged leftovers of profile builds."""
    from trainchain.retention import prune_images
    from trainchain.runtimes.docker import connect
    from trainchain.store import Store

    store = Store()
    try:
        with contextlib.closing(connect()) as client:
            report = prune_images(
                store, client, resolve_keep_runs(keep_runs), dry_run, min_age, match
            )
    finally:
        store.engine.dispose()
    show(report, as_json)
