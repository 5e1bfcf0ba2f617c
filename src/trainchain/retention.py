"""Retention: old virtualenvs and images go; what recent runs and every champion use stays.

One setting bounds both, ``TRAINCHAIN_KEEP_RUNS``: the environments of the newest N runs are
kept, with those of every run behind a champion and of every queued or running run. The prune
commands default to it, and the server prunes after each run when it is set (unset: nothing is
removed automatically). Anything younger than ``min_age`` stays too: a run that is provisioning
right now has not recorded its environment yet.

Freed sizes are honest rather than flattering: a virtualenv's files hard-linked from uv's cache
free nothing (only files with one link count), and an image counts without its parent's layers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import fnmatch
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainchain.settings import operator_settings

if TYPE_CHECKING:
    from docker import DockerClient

    from trainchain.store import Store

log = logging.getLogger(__name__)
KEEP_RUNS_ENV = "TRAINCHAIN_KEEP_RUNS"
DEFAULT_KEEP_RUNS = 20
DEFAULT_MIN_AGE = 3600.0  # seconds


@dataclass(frozen=True)
class Item:
    """One virtualenv (name = its key) or image (name = its tag, or its id when untagged)."""

    name: str
    size: int  # bytes removing it frees
    age: float  # seconds
    keep: str = ""  # why it stays; empty: it goes
    ref: str = ""  # directory or image id
    depth: int = 0  # how many trainchain images it is built on: removed before those


@dataclass
class PruneReport:
    kind: str  # "envs" | "images"
    keep_runs: int
    dry_run: bool
    items: list[Item] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # name -> why it could not go

    @property
    def going(self) -> list[Item]:
        return [i for i in self.items if not i.keep and i.name not in self.failed]

    @property
    def freed(self) -> int:
        return sum(i.size for i in self.going)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "keep_runs": self.keep_runs,
            "dry_run": self.dry_run,
            "removed" if not self.dry_run else "would_remove": [i.name for i in self.going],
            "kept": {i.name: i.keep for i in self.items if i.keep},
            "failed": self.failed,
            "freed_gb": round(self.freed / 1e9, 3),
        }


def keep_runs_setting() -> int | None:
    """``TRAINCHAIN_KEEP_RUNS`` as a count; None when unset (no automatic pruning)."""
    return operator_settings().keep_runs


def _in_use(store: Store, keep_runs: int) -> tuple[set[str], set[str]]:
    """Environment keys and image tags of what the store says must stay."""
    environments = store.environments_in_use(keep_runs)
    keys = {str(e["key"]) for e in environments if e.get("key")}
    tags = {str(e["image"]) for e in environments if e.get("image")}
    return keys, tags


# -- virtualenvs ------------------------------------------------------------------------------


def prune_envs(
    store: Store,
    envs_dir: Path,
    keep_runs: int,
    dry_run: bool = False,
    min_age: float = DEFAULT_MIN_AGE,
) -> PruneReport:
    """Remove the virtualenvs under ``envs_dir`` that nothing kept uses."""
    keys, _tags = _in_use(store, keep_runs)
    report = PruneReport("envs", keep_runs, dry_run)
    now = time.time()
    for path in sorted(p for p in envs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        stamp = path / ".complete"
        age = now - (stamp if stamp.exists() else path).stat().st_mtime
        keep = (
            "used by a kept run"
            if path.name in keys
            else f"younger than {min_age:.0f} s"
            if age < min_age
            else ""
        )
        report.items.append(Item(path.name, _freed_bytes(path), age, keep, str(path)))
    if not dry_run:
        for item in report.going:
            with _env_lock(envs_dir, item.name) as free:
                if not free:
                    report.failed[item.name] = "being provisioned or removed right now"
                    continue
                shutil.rmtree(item.ref)
            (envs_dir / f".{item.name}.lock").unlink(missing_ok=True)
    return report


def _freed_bytes(root: Path) -> int:
    """Bytes of the files only this tree links to (uv hard-links from its cache)."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(folder, name))
                if info.st_nlink == 1:
                    total += info.st_blocks * 512
    return total


@contextlib.contextmanager
def _env_lock(envs_dir: Path, key: str) -> Iterator[bool]:
    """The provisioning lock of ``key``, without waiting: False when someone holds it."""
    with open(envs_dir / f".{key}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- images -----------------------------------------------------------------------------------


def prune_images(
    store: Store,
    client: DockerClient,
    keep_runs: int,
    dry_run: bool = False,
    min_age: float = DEFAULT_MIN_AGE,
    match: str | None = None,
) -> PruneReport:
    """Remove the trainchain images nothing kept uses (and a kept image's parent stays), plus
    the untagged leftovers of profile builds' build stage. ``match``: only tags matching this
    glob (the leftovers, which have no tag, are then left alone)."""
    import docker.errors

    _keys, tags = _in_use(store, keep_runs)
    report = PruneReport("images", keep_runs, dry_run)
    images = client.images.list(filters={"label": "trainchain.kind"})
    sizes = {tag: img.attrs.get("Size", 0) for img in images for tag in img.tags}
    parent_of = {tag: img.labels.get("trainchain.parent") for img in images for tag in img.tags}
    parents: set[str] = set()  # every ancestor of a kept image (project -> profile -> venv)
    for tag in tags:
        parent = parent_of.get(tag)
        while parent and parent not in parents:
            parents.add(parent)
            parent = parent_of.get(parent)
    for image in images:
        size = image.attrs.get("Size", 0) - sizes.get(image.labels.get("trainchain.parent", ""), 0)
        age = _age(image.attrs.get("Created", ""))
        for tag in image.tags:
            if match and not fnmatch.fnmatch(tag, match):
                continue
            keep = (
                "used by a kept run"
                if tag in tags
                else "parent of a kept image"
                if tag in parents
                else f"younger than {min_age:.0f} s"
                if age < min_age
                else ""
            )
            depth = _depth(tag, parent_of)
            report.items.append(Item(tag, max(0, size), age, keep, str(image.id), depth))
    if not match:
        report.items += _build_leftovers(client, min_age)
    if not dry_run:
        for item in sorted(report.going, key=lambda i: -i.depth):  # children first
            try:
                client.images.remove(item.name if ":" in item.name else item.ref, noprune=False)
            except docker.errors.APIError as exc:  # e.g. a container still uses it
                report.failed[item.name] = str(getattr(exc, "explanation", exc) or exc)
    return report


def _depth(tag: str, parent_of: dict[str, str | None]) -> int:
    """How many trainchain images ``tag`` is built on (0: on a base image)."""
    depth, seen = 0, {tag}
    parent = parent_of.get(tag)
    while parent and parent not in seen:
        seen.add(parent)
        depth, parent = depth + 1, parent_of.get(parent)
    return depth


def _build_leftovers(client: DockerClient, min_age: float) -> list[Item]:
    """Untagged build-stage images of profile builds (each holds a whole virtualenv)."""
    bases: dict[str, int] = {}
    items = []
    for image in client.images.list(filters={"label": "trainchain.stage=build", "dangling": True}):
        base = image.labels.get("trainchain.base-image", "")
        if base not in bases:
            bases[base] = _size_of(client, base)
        age = _age(image.attrs.get("Created", ""))
        keep = f"younger than {min_age:.0f} s" if age < min_age else ""
        size = max(0, image.attrs.get("Size", 0) - bases[base])
        items.append(Item(image.short_id, size, age, keep, str(image.id)))
    return items


def _size_of(client: DockerClient, tag: str) -> int:
    try:
        return int(client.images.get(tag).attrs.get("Size", 0)) if tag else 0
    except Exception:  # noqa: BLE001 - an absent base only makes the estimate larger
        return 0


def _age(created: str) -> float:
    try:  # the engine's "2026-11-29T11:18:00.123456789Z": nanoseconds are more than needed
        when = dt.datetime.fromisoformat(created[:19]).replace(tzinfo=dt.UTC)
    except ValueError:
        return float("inf")
    return (dt.datetime.now(dt.UTC) - when).total_seconds()


# -- the server's bound -----------------------------------------------------------------------


def auto_prune(
    store: Store, envs_dir: Path | None = None, with_images: bool = True
) -> list[PruneReport]:
    """After a run, when ``TRAINCHAIN_KEEP_RUNS`` is set: prune envs, and images when a Docker
    engine answers. Failures are logged, never raised (a run's result must not depend on it)."""
    from trainchain import paths

    keep = keep_runs_setting()
    if keep is None:
        return []
    reports = []
    try:
        reports.append(prune_envs(store, envs_dir or paths.envs_dir(), keep))
    except OSError as exc:
        log.warning("pruning virtualenvs failed: %s", exc)
    try:
        if with_images:
            import docker

            with contextlib.closing(docker.from_env(timeout=10)) as client:
                client.ping()
                reports.append(prune_images(store, client, keep))
    except Exception as exc:  # noqa: BLE001 - no engine (or no SDK): envs only
        log.info("image pruning skipped: %s", exc)
    for report in reports:
        if report.going or report.failed:
            log.info(
                "retention (%s=%d): removed %d %s (%.2f GB)%s",
                KEEP_RUNS_ENV,
                keep,
                len(report.going),
                report.kind,
                report.freed / 1e9,
                f", {len(report.failed)} could not go" if report.failed else "",
            )
    return reports
