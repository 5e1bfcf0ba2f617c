"""Copy-on-write for the files an attempt shares with the fetched commit.

The controller hard-links the commit's files into each attempt's working tree (a 456 MB
dataset is not copied per attempt) and makes the shared inodes read-only. A script that opens
one of them for writing -- ``open(path, "w")``, ``"a"``, ``"r+"``, ``os.open`` with write
flags, and so everything built on them: PIL's ``save``, ``numpy.save``, pandas, shutil --
first gets its own copy here, so the write succeeds and the next attempt still sees the
commit's data. Files outside the working tree, and files with a single link, are untouched.
"""

from __future__ import annotations

import builtins
import io
import logging
import os
import stat
from typing import Any

logger = logging.getLogger("trainchain.agent")

_original_open = builtins.open
_original_os_open = os.open
_root = ""


def install(root: str) -> None:
    """Make shared files under ``root`` (the working tree) private before a write."""
    global _root
    _root = os.path.realpath(root)
    builtins.open = io.open = _open
    os.open = _os_open


def _open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
    if isinstance(mode, str) and any(c in mode for c in "wa+"):
        make_private(file, truncate="w" in mode)
    return _original_open(file, mode, *args, **kwargs)


def _os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
    if flags & (os.O_WRONLY | os.O_RDWR) and kwargs.get("dir_fd") is None:
        make_private(path, truncate=bool(flags & os.O_TRUNC))
    return _original_os_open(path, flags, *args, **kwargs)


def make_private(file: Any, truncate: bool = False) -> bool:
    """Replace a shared (multiply linked) file of the working tree by a private copy, or just
    unlink it when it is about to be truncated anyway. True when it was shared."""
    if not _root or isinstance(file, int) or not isinstance(file, str | bytes | os.PathLike):
        return False
    try:
        path = os.fsdecode(os.fspath(file))
        info = os.stat(path)
    except (OSError, TypeError, ValueError):
        return False  # not there yet (it will be created private) or not a path
    if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
        return False
    real = os.path.realpath(path)
    if not real.startswith(_root + os.sep):
        return False
    mode = stat.S_IMODE(info.st_mode) | stat.S_IWUSR
    if truncate:
        os.unlink(real)  # the content is about to go: a new, private, empty file
        os.close(_original_os_open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        return True
    tmp = f"{real}.trainchain-cow-{os.getpid()}"
    with _original_open(real, "rb") as src, _original_open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    os.chmod(tmp, mode)
    os.replace(tmp, real)
    return True
