"""Per-trial directories under the run: a fresh working copy per attempt, persistent checkpoints."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

# Large files are hard-linked instead of copied: data shipped in a repo is read, not rewritten.
HARDLINK_ABOVE_BYTES = 1 << 20
IGNORED = shutil.ignore_patterns(".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv")


@dataclass(frozen=True)
class TrialDirs:
    root: Path

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def output(self) -> Path:
        return self.root / "output"

    def work(self, attempt: int) -> Path:
        return self.root / f"work-{attempt}"

    def events(self, attempt: int) -> Path:
        return self.root / f"events-{attempt}.jsonl"

    def log(self, attempt: int) -> Path:
        return self.root / f"attempt-{attempt}.log"


def trial_dirs(run_dir: Path, number: int) -> TrialDirs:
    return TrialDirs(run_dir / "trials" / f"{number:03d}")


def _copy(src: str, dst: str) -> object:
    if os.path.getsize(src) > HARDLINK_ABOVE_BYTES:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    return shutil.copy2(src, dst)


def fresh_copy(snapshot: Path, dest: Path) -> Path:
    """Copy the fetched commit to ``dest`` (replacing a previous attempt's leftovers)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(snapshot, dest, symlinks=True, ignore=IGNORED, copy_function=_copy)
    return dest
