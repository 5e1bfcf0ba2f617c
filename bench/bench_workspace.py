"""Benchmark the per-attempt working tree of a repository with its dataset inside.

Run: ``python bench/bench_workspace.py [--files 10000] [--mb 450] [--repeat 7] [--no-write]``.
Generates a tree like New-Byte/mlops_code (``cnn_dataset/{training,test}_set/{cats,dogs}/``,
10,000 files, 450 MB, plus a script), then prepares attempts side by side, interleaved: today's
``fresh_copy`` (files shared: reflink, else a read-only hard link) and the copy it replaced
(``shutil.copytree``, hard-linking only files above 1 MiB). Prints the figures and rewrites its
section of docs/benchmarks.md. Goal: under 1 s per attempt.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, ratio, write_section  # noqa: E402

from trainchain.trials.workspace import _NO_REFLINK, IGNORED, fresh_copy  # noqa: E402

_OLD_HARDLINK_ABOVE = 1 << 20  # the copy this replaced linked only files above 1 MiB


def _old_copy_file(src: str, dst: str) -> object:
    if os.path.getsize(src) > _OLD_HARDLINK_ABOVE:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    return shutil.copy2(src, dst)


def old_fresh_copy(snapshot: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(snapshot, dest, symlinks=True, ignore=IGNORED, copy_function=_old_copy_file)


def generate(root: Path, files: int, megabytes: int) -> int:
    """A repository with ``files`` images of random bytes adding up to ``megabytes``."""
    size = megabytes * 1_000_000 // files
    (root / "project.py").write_text("steps = int(input('Enter steps_per_epoch: '))\n")
    per_dir = files // 4
    index = 0
    for split in ("training_set", "test_set"):
        for label in ("cats", "dogs"):
            folder = root / "cnn_dataset" / split / label
            folder.mkdir(parents=True)
            for _ in range(per_dir):
                (folder / f"{label[:-1]}.{index}.jpg").write_bytes(os.urandom(size))
                index += 1
    return index * size


def disk_added(work: Path, snapshot_inodes: set[int]) -> int:
    """Bytes of the working tree not shared with the snapshot (by inode)."""
    total = 0
    for path in work.rglob("*"):
        info = path.lstat()
        if path.is_file() and info.st_ino not in snapshot_inodes:
            total += info.st_blocks * 512
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=450)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-workspace-") as tmp:
        snapshot = Path(tmp) / "source"
        snapshot.mkdir()
        start = time.perf_counter()
        written = generate(snapshot, args.files, args.mb)
        print(
            f"generated {args.files} files, {written / 1e6:.0f} MB in "
            f"{time.perf_counter() - start:.1f}s"
        )
        start = time.perf_counter()
        fresh_copy(snapshot, Path(tmp) / "first")  # the first attempt also marks files read-only
        first = time.perf_counter() - start
        shutil.rmtree(Path(tmp) / "first")
        inodes = {p.stat().st_ino for p in snapshot.rglob("*") if p.is_file()}
        new_times, old_times, new_disk, old_disk = [], [], 0, 0
        for attempt in range(args.repeat):  # interleaved: both see the same load
            for which, fn, times in (
                ("new", fresh_copy, new_times),
                ("old", old_fresh_copy, old_times),
            ):
                work = Path(tmp) / f"{which}-{attempt}"
                start = time.perf_counter()
                fn(snapshot, work)
                times.append(time.perf_counter() - start)
                added = disk_added(work, inodes)
                if which == "new":
                    new_disk = added
                else:
                    old_disk = added
                shutil.rmtree(work)
        mode = "hard links" if os.stat(snapshot).st_dev in _NO_REFLINK else "reflinks"
    new, old = statistics.median(new_times), statistics.median(old_times)
    rows = [
        f"| shared tree (`fresh_copy`: {mode}) | {new * 1000:.0f} ms | "
        f"{min(new_times) * 1000:.0f}-{max(new_times) * 1000:.0f} ms | 1.00x | "
        f"{new_disk / 1e6:.1f} MB |",
        f"| copy (the previous `fresh_copy`: `copytree`, links above 1 MiB) | "
        f"{old * 1000:.0f} ms | {min(old_times) * 1000:.0f}-{max(old_times) * 1000:.0f} ms | "
        f"{ratio(old, new)} | {old_disk / 1e6:.1f} MB |",
    ]
    text = "\n".join(
        [
            "## Per-attempt working tree with the dataset inside the repository "
            "(`bench/bench_workspace.py`)",
            "",
            machine(),
            "",
            f"A generated repository like New-Byte/mlops_code: {args.files:,} images of random "
            f"bytes ({written / 1e6:.0f} MB) under `cnn_dataset/` plus a script. Each attempt of a "
            "trial gets its own working tree; both ways ran interleaved, "
            f"{args.repeat} times each (median, min-max). Goal: under 1 s per attempt.",
            "",
            "| per attempt | median | min-max | ratio | disk added |",
            "|---|---|---|---|---|",
            *rows,
            "",
            "The first attempt of a run also marks the commit's files read-only: "
            f"{first * 1000:.0f} ms. A script that writes a shared file gets a private copy "
            "of that file only (the agent's copy-on-write).",
        ]
    )
    print(text)
    if not args.no_write:
        write_section("workspace", text)


if __name__ == "__main__":
    main()
