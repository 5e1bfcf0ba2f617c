"""job1 — fetch: snapshot the source at a commit into the run's directory.

A git URL or a local git repository with ``ref`` is cloned and checked out at the commit; a
local directory without ``ref`` is copied as it is (uncommitted changes included: what you see
is what trains), its commit recorded with ``-dirty`` when the tree has changes. Trials later
copy this snapshot; the user's checkout is never touched again.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from trainchain.config import SERVER_TRIGGERS, load_config, override
from trainchain.errors import SourceError, UsageError
from trainchain.extras import require
from trainchain.stages.context import StageContext, StageResult, config_overrides
from trainchain.trials.workspace import IGNORED
from trainchain.urls import check_source, git_environ, redact

GIT_TIMEOUT = 300


@dataclass(frozen=True)
class FetchResult:
    snapshot: str
    commit: str | None
    branch: str | None
    kind: str  # "git" | "directory"


def run(ctx: StageContext) -> StageResult:
    """Snapshot the source, then read its trainchain.yaml under the run's overrides."""
    run_ = ctx.run
    result = fetch(run_.source, run_.ref, ctx.run_dir / "source")
    shown = (
        str(Path(run_.source) / "trainchain.yaml")
        if Path(run_.source).is_dir()
        else f"trainchain.yaml of {redact(run_.source)} at {(result.commit or '')[:12]}"
    )
    # a run the server started trains pushed code: its trainchain.yaml only tunes
    repository = run_.trigger in SERVER_TRIGGERS
    config = override(
        load_config(Path(result.snapshot), shown, repository=repository),
        **config_overrides(run_.options),
    )
    if config.tracking.enabled:  # before any training: a missing MLflow must not cost a run
        require("mlflow", "tracking.mlflow_uri (the export to MLflow)")
    ctx.store.update_run(
        run_.id,
        snapshot=result.snapshot,
        commit=result.commit,
        branch=run_.branch or result.branch,
        config=config.model_dump(mode="json"),
        name=config.name or run_.name,
    )
    ctx.say(f"fetched {redact(run_.source)} at {result.commit or 'working tree'}")
    return StageResult(asdict(result))


def is_remote(source: str) -> bool:
    return (
        "://" in source
        or source.startswith("git@")
        or source.endswith(".git")
        and not Path(source).exists()
    )


def fetch(source: str, ref: str | None, dest: Path) -> FetchResult:
    """Fetch ``source`` at ``ref`` into ``dest`` (replaced if present: fetch is idempotent)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_remote(source):
        try:
            check_source(source, allow_local=True)
        except UsageError as exc:
            raise SourceError(exc.message) from exc
        return _clone(source, ref, dest)
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError(
            f"source {redact(source)!r} does not exist; "
            "give a directory, a git repository or a git URL"
        )
    if not path.is_dir():
        raise SourceError(f"source {source!r} is a file; give the project's directory")
    if ref is not None:
        if not (path / ".git").exists():
            raise SourceError(
                f"--ref {ref!r} given but {source!r} is not a git repository; drop --ref"
            )
        return _clone(str(path.resolve()), ref, dest)
    shutil.copytree(path, dest, symlinks=True, ignore=IGNORED)
    commit, branch = _describe(path)
    return FetchResult(str(dest), commit, branch, "directory")


def _clone(url: str, ref: str | None, dest: Path) -> FetchResult:
    shown = redact(url)
    # `--`: the URL is never read as an option (`--upload-pack=...`)
    _git(["clone", "--quiet", "--no-checkout", "--", url, str(dest)], f"cannot clone {shown!r}")
    target = ref or "HEAD"
    commit = _git(
        ["-C", str(dest), "rev-parse", "--verify", "--quiet", f"{target}^{{commit}}"], None
    )
    if not commit:
        commit = _git(
            ["-C", str(dest), "rev-parse", "--verify", "--quiet", f"origin/{target}^{{commit}}"],
            None,
        )
    if not commit:
        raise SourceError(
            f"ref {ref!r} not found in {shown!r}; give a branch, tag or commit that exists "
            "(`git ls-remote URL` lists them)"
        )
    _git(["-C", str(dest), "checkout", "--quiet", "--detach", commit], f"cannot check out {commit}")
    branch = (
        ref
        if ref and ref != "HEAD" and not _looks_like_sha(ref, commit)
        else _git(["-C", str(dest), "rev-parse", "--abbrev-ref", "origin/HEAD"], None).removeprefix(
            "origin/"
        )
        or None
    )
    shutil.rmtree(dest / ".git", ignore_errors=True)
    return FetchResult(str(dest), commit, branch, "git")


def _describe(path: Path) -> tuple[str | None, str | None]:
    if not _git(["-C", str(path), "rev-parse", "--show-toplevel"], None):
        return None, None
    commit = _git(["-C", str(path), "rev-parse", "HEAD"], None) or None
    branch = _git(["-C", str(path), "rev-parse", "--abbrev-ref", "HEAD"], None) or None
    dirty = _git(["-C", str(path), "status", "--porcelain", "--", "."], None)
    if commit and dirty:
        commit += "-dirty"
    return commit, branch


def _looks_like_sha(ref: str, commit: str) -> bool:
    return len(ref) >= 7 and commit.startswith(ref)


def _git(args: list[str], error: str | None) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            env=git_environ(),
        )
    except FileNotFoundError as exc:
        raise SourceError("git is not installed; install git (apt-get install git)") from exc
    except subprocess.TimeoutExpired as exc:
        raise SourceError(f"{error or 'git'}: no answer after {GIT_TIMEOUT}s") from exc
    if proc.returncode != 0:
        if error is None:
            return ""
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise SourceError(redact(f"{error}: {reason}"))
    return proc.stdout.strip()
