"""`trainchain notify test [PATH]`: send a test message on every configured channel."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from trainchain.errors import ConfigError

EVENTS = ["started", "succeeded", "target_not_reached", "failed"]


@click.group()
def notify() -> None:
    """Send test notifications on the channels of trainchain.yaml."""


@notify.command("test")
@click.argument("path", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--event",
    type=click.Choice(EVENTS),
    default="succeeded",
    show_default=True,
    help="Which event the test message pretends to be.",
)
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for each server.",
)
@click.option(
    "--retries", type=int, default=1, show_default=True, help="Retries of a failed delivery."
)
def test(path: Path, event: str, timeout: float, retries: int) -> None:
    """Send a test message on every channel in PATH/trainchain.yaml (ignores their on: lists)."""
    from trainchain.notify import dispatch
    from trainchain.notify.sample import git_facts, sample_report

    channels = load_channels(path)
    source, commit, branch = git_facts(path)
    report = sample_report(source, commit, branch, event=event)
    click.echo(f"sending test '{event}' ({report.run_id}) on {len(channels)} channel(s)")
    notify_log = logging.getLogger("trainchain.notify")
    level = notify_log.level
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        # each failure is printed below; the logger's copy would only repeat it (-v shows it)
        notify_log.setLevel(logging.ERROR)
    try:
        results = dispatch(
            event, report, channels, retries=retries, backoff=0.5, timeout=timeout, force=True
        )
    finally:
        notify_log.setLevel(level)
    for result in results:
        mark = click.style("ok    ", fg="green") if result.ok else click.style("FAILED", fg="red")
        text = result.detail if result.ok else result.error
        tries = f" ({result.attempts} attempts)" if result.attempts > 1 else ""
        click.echo(f"{mark} {result.channel}{tries}: {text}")
    failed = sum(not r.ok for r in results)
    if failed:
        click.echo(f"{failed} of {len(results)} channel(s) failed", err=True)
        raise click.exceptions.Exit(1)


def load_channels(path: Path) -> list[Any]:
    """The ``notify:`` channels of ``path``/trainchain.yaml; a ConfigError when there are none."""
    file = path / "trainchain.yaml"
    if not file.is_file():
        raise ConfigError(
            f"no trainchain.yaml in {path}; create one with a notify: list "
            "(see docs/notifications.md)"
        )
    try:
        from trainchain.config import load_config  # the project's loader, when present
    except ImportError:
        channels = _read_notify(file)
    else:
        channels = list(load_config(path).notify)
    if not channels:
        raise ConfigError(
            f"{file} has no notify: channels; add e.g. "
            "'notify: [{slack: {webhook_url_env: SLACK_WEBHOOK_URL}}]'"
        )
    return channels


def _read_notify(file: Path) -> list[Any]:
    import yaml

    from trainchain.notify.config import parse_notify

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML ({exc}); fix the syntax") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file} must hold a mapping at the top, got {type(data).__name__}")
    return parse_notify(data.get("notify"))
