"""Per-trial directories under the run: a fresh working tree per attempt, persistent checkpoints.

An attempt's working tree shares the fetched commit's files instead of copying them, so a
repository with its dataset inside (10,000 images, 456 MB) is ready in a fraction of a
second. Sharing is safe against a script that writes into its tree:

- a reflink (copy-on-write clone, btrfs/XFS) where the filesystem has them: every attempt's
  file is private as soon as it is written;
- otherwise a hard link to a read-only inode. Writes from Python (``open``/``os.open`` for
  writing, so also PIL, NumPy, pandas, shutil...) are turned into copy-on-write by the agent
  (``trainchain.agent.shared_files``): the file is made private before it is written. A
  writer outside Python that does not run as root gets "permission denied" instead of
  changing the next attempt's data.

Files that native code (not Python's ``open``) commonly rewrites in place -- HDF5 models
(``model.save("model.h5")``), TensorFlow checkpoints, ONNX/TFLite models, SQLite and LMDB
databases -- are copied: a repository holds few of them, and the agent could not catch those
writes. New files, deleted or renamed files only ever touch the attempt's own tree.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

IGNORED_NAMES = frozenset({".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv"})
IGNORED = shutil.ignore_patterns(*IGNORED_NAMES)
# written in place by native code (HDF5, TensorFlow, SQLite...): copied, never shared
_COPIED_SUFFIXES = (
    ".h5",
    ".hdf5",
    ".he5",
    ".ckpt",
    ".index",
    ".pb",
    ".onnx",
    ".tflite",
    ".db",
    ".sqlite",
    ".sqlite3",
    ".mdb",
    ".lmdb",
)
_FICLONE = 0x40049409  # ioctl of Linux: clone a file's extents (a reflink)
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
# Filesystems (st_dev) known to refuse reflinks: tried once per device, not per file.
_NO_REFLINK: set[int] = set()
# Snapshots (directory inode, ctime) whose files are all read-only already: later attempts
# only link, one system call per file. A re-fetched snapshot is a new directory.
_READ_ONLY: set[tuple[int, int, int]] = set()


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


def fresh_copy(snapshot: Path, dest: Path) -> Path:
    """A working tree of the fetched commit at ``dest`` (replacing a previous attempt's
    leftovers) whose files are shared with ``snapshot``, never copied (see the module doc)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    info = snapshot.stat()
    key = (info.st_dev, info.st_ino, info.st_ctime_ns)
    if info.st_dev in _NO_REFLINK and key in _READ_ONLY:
        _walk(str(snapshot), str(dest), _link_file)
    else:
        _walk(str(snapshot), str(dest), share_file)
        if info.st_dev in _NO_REFLINK:
            _READ_ONLY.add(key)
    return dest


def _walk(src: str, dst: str, place: Callable[[str, str], object]) -> None:
    """Rebuild the tree ``src`` at ``dst``: directories made, symlinks copied, every file put in
    place by ``place(source, target)``."""
    os.mkdir(dst)
    with os.scandir(src) as entries:
        for entry in entries:
            if entry.name in IGNORED_NAMES:
                continue
            target = os.path.join(dst, entry.name)
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir():
                _walk(entry.path, target, place)
            elif entry.is_file():
                place(entry.path, target)
    shutil.copymode(src, dst)


def _link_file(src: str, dst: str) -> None:
    """For a snapshot already made read-only on a filesystem without reflinks: a hard link,
    except for the files native code rewrites in place (copied as ``share_file`` does)."""
    if is_copied(os.path.basename(src)) or not _link(src, dst):
        share_file(src, dst)


def _link(src: str, dst: str) -> bool:
    try:
        os.link(src, dst)
        return True
    except OSError:
        return False


def is_copied(name: str) -> bool:
    """Files native code rewrites in place (models, checkpoints, databases) are not shared."""
    lower = name.lower()
    return lower.endswith(_COPIED_SUFFIXES) or ".data-0" in lower  # TF: x.data-00000-of-00001


def share_file(src: str, dst: str) -> str:
    """``dst`` becomes ``src``'s content without copying it: a reflink when the filesystem
    can, else a hard link to ``src`` made read-only; a copy when neither works or when native
    code may rewrite the file in place (``is_copied``)."""
    info = os.stat(src)
    if info.st_dev not in _NO_REFLINK and _reflink(src, dst, info):
        return "reflink"
    if is_copied(os.path.basename(src)):
        shutil.copy2(src, dst)
        return "copy"
    if info.st_mode & _WRITE_BITS:
        os.chmod(src, stat.S_IMODE(info.st_mode) & ~_WRITE_BITS)
    try:
        os.link(src, dst)
        return "link"
    except OSError:  # another filesystem, too many links, links not allowed
        shutil.copy2(src, dst)
        os.chmod(dst, stat.S_IMODE(info.st_mode))
        return "copy"


def _reflink(src: str, dst: str, info: os.stat_result) -> bool:
    import fcntl

    try:
        source = os.open(src, os.O_RDONLY)
    except OSError:
        return False
    try:
        target = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IMODE(info.st_mode))
        try:
            fcntl.ioctl(target, _FICLONE, source)
            return True
        except OSError as exc:
            if exc.errno in (
                errno.EOPNOTSUPP,
                errno.ENOTTY,
                errno.EINVAL,
                errno.EXDEV,
                errno.ENOSYS,
                errno.EPERM,
            ):
                _NO_REFLINK.add(info.st_dev)
            os.close(target)
            target = -1
            with contextlib.suppress(OSError):
                os.unlink(dst)
            return False
        finally:
            if target >= 0:
                os.close(target)
    finally:
        os.close(source)
