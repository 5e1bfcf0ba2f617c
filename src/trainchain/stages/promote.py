"""job5 — promote: register the best model as a new version; move ``champion`` only if it wins."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from trainchain.store import ModelVersion, Store
from trainchain.trials import metrics as M

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


@dataclass(frozen=True)
class PromoteResult:
    name: str
    version: int
    path: str
    became_champion: bool
    previous_champion: int | None
    reason: str


def register(store: Store, name: str, candidate: Candidate, models_root: Path) -> PromoteResult:
    """Copy the model's files into the registry and record the version (idempotent per trial)."""
    existing = _existing(store, name, candidate)
    if existing is not None:
        return existing
    with store.session() as s:
        version = (
            s.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.name == name)) or 0
        ) + 1
    dest = models_root / name / str(version)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(candidate.output_dir, dest, ignore=shutil.ignore_patterns("events*.jsonl"))
    model_file = dest / Path(candidate.model_path).name if candidate.model_path else dest
    champion = store.aliases(name).get(CHAMPION)
    champion_value = _value_of(store, name, champion, candidate) if champion else None
    wins = (
        champion is None
        or champion_value is None
        or M.better(candidate.value, champion_value, candidate.goal)
    )
    with store.session() as s:
        s.add(
            ModelVersion(
                name=name,
                version=version,
                run_id=candidate.run_id,
                trial=candidate.trial,
                path=str(model_file),
                metric_name=candidate.metric_name,
                goal=candidate.goal,
                value=candidate.value,
                params=candidate.params,
                metrics=candidate.metrics,
                curves=candidate.curves,
                commit=candidate.commit,
                branch=candidate.branch,
                profile=candidate.profile,
                data_fingerprint=fingerprint(candidate.data),
            )
        )
    if wins:
        store.set_alias(name, CHAMPION, version)
        reason = (
            "first version"
            if champion is None
            else (
                f"{candidate.metric_name} {candidate.value:.4f} "
                f"beats champion v{champion} ({champion_value:.4f})"
                if champion_value is not None
                else f"champion v{champion} was measured on another metric"
            )
        )
    else:
        reason = f"champion v{champion} stays ({champion_value:.4f} vs {candidate.value:.4f})"
    return PromoteResult(name, version, str(model_file), wins, champion, reason)


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
