"""job5 — promote: register the best model as a new version; move ``champion`` only if it wins."""

from __future__ import annotations

import fnmatch
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from trainchain import paths
from trainchain.errors import ConfigError
from trainchain.reporting import curve
from trainchain.stages.context import StageContext, StageResult, TrialError
from trainchain.store import ModelVersion, Store
from trainchain.trials import metrics as M
from trainchain.trials.workspace import trial_dirs

log = logging.getLogger(__name__)
CHAMPION = "champion"
SMALL_DATA_BYTES = 64 << 20  # hash data below this size; fingerprint larger data by metadata


@dataclass(frozen=True)
class Candidate:
    run_id: str
    trial: int
    value: float
    metric_name: str
    goal: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    curves: list[dict[str, Any]]
    model_path: str | None
    output_dir: Path
    commit: str | None
    branch: str | None
    profile: str | None
    data: dict[str, str]

    def version_fields(self) -> dict[str, Any]:
        """The registry row's columns this candidate fills (``ModelVersion``'s own names)."""
        columns = ModelVersion.__table__.columns.keys()
        same = {f.name: getattr(self, f.name) for f in fields(self) if f.name in columns}
        return same | {"data_fingerprint": fingerprint(self.data)}


@dataclass(frozen=True)
class PromoteResult:
    name: str
    version: int
    path: str
    became_champion: bool
    previous_champion: int | None
    reason: str


def run(ctx: StageContext) -> StageResult:
    """Register the run's best trial (exports and notifications follow as listeners)."""
    config, run_ = ctx.config, ctx.run
    best = M.best_trial(ctx.store.trials(run_.id), run_.metric_name, config.goal)
    if best is None:
        raise TrialError("no trial completed with a metric; nothing to register")
    assert best.value is not None and best.metric_name is not None
    candidate = Candidate(
        run_id=run_.id,
        trial=best.number,
        value=best.value,
        metric_name=best.metric_name,
        goal=config.goal,
        params=best.params,
        metrics=best.metrics,
        curves=curve(best),
        model_path=best.model_path,
        output_dir=trial_dirs(ctx.run_dir, best.number).output,
        commit=run_.commit,
        branch=run_.branch,
        profile=run_.profile,
        data=config.data,
    )
    result = register(ctx.store, run_.name, candidate, paths.models_dir())
    ctx.store.update_run(
        run_.id, model_version=result.version, became_champion=result.became_champion
    )
    ctx.say(f"registered {result.name} v{result.version}: {result.reason}")
    return StageResult(asdict(result))


def model_name(source: str) -> str:
    """The registry name a source gets by default: its last path part, made a safe name."""
    base = source.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
    if base in ("", ".", ".."):
        base = Path(source).resolve().name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-_")[:100].replace("..", ".")
    return safe or "model"


MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_model_name(name: str) -> str:
    """A model name is one path component of the registry: no ``/``, no ``..``."""
    if not MODEL_NAME.match(name) or ".." in name:
        raise ConfigError(
            f"model name {name[:120]!r} is not allowed; use letters, digits, '.', '_' and '-' "
            "(at most 100, starting with a letter or digit), e.g. name: digits-cnn"
        )
    return name


def _outside_or_events(root: Path) -> Callable[[str, list[str]], set[str]]:
    """copytree's ignore: event logs, and any symlink whose target is outside the trial's
    output (a link to /etc/shadow must not become a registry file)."""
    top = root.resolve()

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            path = Path(directory) / name
            if fnmatch.fnmatch(name, "events*.jsonl"):
                skipped.add(name)
            elif path.is_symlink() and not path.resolve().is_relative_to(top):
                log.warning("registry copy: %s links outside the output; not copied", path)
                skipped.add(name)
        return skipped

    return ignore


def register(store: Store, name: str, candidate: Candidate, models_root: Path) -> PromoteResult:
    """Copy the model's files into the registry and record the version (idempotent per trial)."""
    existing = _existing(store, name, candidate)
    if existing is not None:
        return existing
    model_dir = models_root / check_model_name(name)
    model_dir.mkdir(parents=True, exist_ok=True)
    # Files first, into a private directory: the version number is only known once the database
    # has given it (the (name, version) unique constraint decides between concurrent promotions).
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=model_dir))
    try:
        shutil.copytree(
            candidate.output_dir,
            incoming,
            ignore=_outside_or_events(candidate.output_dir),
            dirs_exist_ok=True,
        )
        model_name = Path(candidate.model_path).name if candidate.model_path else None
        version = store.add_model_version(
            name,
            lambda v: str(model_dir / str(v) / model_name if model_name else model_dir / str(v)),
            **candidate.version_fields(),
        )
        dest = model_dir / str(version)
        if dest.exists():  # left by a promotion that died before its row was written
            shutil.rmtree(dest)
        incoming.rename(dest)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    model_file = dest / model_name if model_name else dest
    wins, champion, reason = _contest(store, name, version, candidate)
    return PromoteResult(name, version, str(model_file), wins, champion, reason)


def _contest(store: Store, name: str, version: int, c: Candidate) -> tuple[bool, int | None, str]:
    """Move ``champion`` to ``version`` if it beats the current one. Compare-and-set: when a
    concurrent promotion moves the champion in between, decide again against the new one."""
    while True:
        champion = store.aliases(name).get(CHAMPION)
        champion_value = _value_of(store, name, champion, c) if champion else None
        if champion is not None and champion_value is not None:
            if not M.better(c.value, champion_value, c.goal):
                stays = f"champion v{champion} stays ({champion_value:.4f} vs {c.value:.4f})"
                return False, champion, stays
        if store.swap_alias(name, CHAMPION, champion, version):
            break
    if champion is None:
        return True, None, "first version"
    if champion_value is None:
        return True, champion, f"champion v{champion} was measured on another metric"
    return (
        True,
        champion,
        (f"{c.metric_name} {c.value:.4f} beats champion v{champion} ({champion_value:.4f})"),
    )


def promote(store: Store, name: str, version: int) -> None:
    """Move ``champion`` by hand (``trainchain models promote``)."""
    from trainchain.errors import NotFoundError

    if not any(v.version == version for v in store.model_versions(name)):
        raise NotFoundError(
            f"model {name!r} has no version {version}; `trainchain models show {name}` lists them"
        )
    store.set_alias(name, CHAMPION, version)


def _existing(store: Store, name: str, c: Candidate) -> PromoteResult | None:
    for v in store.model_versions(name):
        if v.run_id == c.run_id and v.trial == c.trial:
            champion = store.aliases(name).get(CHAMPION)
            return PromoteResult(
                name, v.version, v.path, champion == v.version, None, "already registered"
            )
    return None


def _value_of(store: Store, name: str, version: int, c: Candidate) -> float | None:
    """The champion's value, only when measured on the same metric and goal."""
    for v in store.model_versions(name):
        if v.version == version and v.metric_name == c.metric_name and v.goal == c.goal:
            return v.value
    return None


def fingerprint(data: dict[str, str]) -> dict[str, Any]:
    """Paths, file counts, sizes and newest mtime; a content hash for small data."""
    import hashlib

    out: dict[str, Any] = {}
    for name, root in sorted(data.items()):
        path = Path(root)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        stats = [(p, p.stat()) for p in files if p.exists()]
        total = sum(st.st_size for _, st in stats)
        entry: dict[str, Any] = {
            "path": str(path),
            "files": len(stats),
            "bytes": total,
            "newest_mtime": max((st.st_mtime for _, st in stats), default=None),
        }
        if total <= SMALL_DATA_BYTES:
            digest = hashlib.sha256()
            for p, _ in stats:
                digest.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
                digest.update(p.read_bytes())
            entry["sha256"] = digest.hexdigest()
        out[name] = entry
    return out
