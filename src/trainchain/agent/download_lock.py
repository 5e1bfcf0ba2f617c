"""The first download of a dataset file, once, whoever asks (standard library only).

The dataset cache is shared by every run and trial of a machine: the controller's prefetch and
a local trial's own download (Keras' ``get_file``) may race on one file. Both go through
``first_download``: an exclusive ``flock`` on a lock file beside the target, then the bytes go
to a private temporary name in the same directory and are renamed into place, so a reader sees
either no file or the whole file, never a half-written one that a later run would trust.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

CHUNK = 1 << 20
TIMEOUT_SECONDS = 30.0

Reporthook = Callable[[int, int, int], Any]  # urlretrieve's (blocks, block size, total size)


@contextlib.contextmanager
def first_download(target: str) -> Iterator[bool]:
    """Hold the lock of ``target``; yield True when this process must fetch it, False when the
    file is there (another process finished it while this one waited)."""
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    lock = os.path.join(folder, f".{os.path.basename(target)}.lock")
    with open(lock, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waited = False
        except BlockingIOError:
            fcntl.flock(fh, fcntl.LOCK_EX)  # someone else is downloading it: wait for them
            waited = True
        try:
            # a file present when the lock came free without waiting is one the caller chose
            # to replace (Keras re-downloads a file whose hash does not match)
            yield not (waited and os.path.exists(target))
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fetch_atomically(
    url: str,
    target: str,
    reporthook: Reporthook | None = None,
    sha256: str = "",
    timeout: float = TIMEOUT_SECONDS,
) -> int:
    """Download ``url`` to ``target`` through a temporary file renamed into place; return the
    number of bytes. A file whose ``sha256`` (when given) differs is never renamed into place
    (``ValueError``). The caller holds ``first_download(target)``."""
    folder = os.path.dirname(os.path.abspath(target))
    fd, part = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            digest = hashlib.sha256()
            total = int(response.headers.get("Content-Length") or -1)
            size = _copy(response, out, total, reporthook, digest)
            out.flush()
            os.fsync(out.fileno())
        if sha256 and digest.hexdigest() != sha256.lower():
            raise ValueError(f"{url}: sha256 {digest.hexdigest()}, expected {sha256}")
        os.chmod(part, 0o644)  # mkstemp's 0600 would hide it from trials of other users
        os.replace(part, target)
        return size
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
        raise


def _copy(
    response: Any, out: BinaryIO, total: int, reporthook: Reporthook | None, digest: Any
) -> int:
    size = blocks = 0
    if reporthook is not None:
        reporthook(0, CHUNK, total)
    while chunk := response.read(CHUNK):
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
        blocks += 1
        if reporthook is not None:
            reporthook(blocks, CHUNK, total)
    if 0 <= total != size:
        raise OSError(f"{response.geturl()} ended after {size} of {total} bytes")
    return size


def locked_urlretrieve(original: Callable[..., Any]) -> Callable[..., Any]:
    """Keras' module-level ``urlretrieve(url, filename, reporthook)`` made safe to race: one
    process downloads, the others wait and find the file; the file appears whole or not at all."""

    def urlretrieve(
        url: str, filename: Any, reporthook: Reporthook | None = None, *rest: Any
    ) -> Any:
        if rest or not isinstance(filename, str | os.PathLike):
            return original(url, filename, reporthook, *rest)
        target = os.fspath(filename)
        with first_download(target) as needed:
            if needed:
                fetch_atomically(url, target, reporthook)
        return target, None

    urlretrieve.__wrapped__ = original  # type: ignore[attr-defined]
    return urlretrieve


# where each Keras keeps the ``urlretrieve`` its ``get_file`` calls (a module global)
KERAS_DOWNLOADERS = (
    "keras.src.utils.file_utils",  # Keras 3
    "keras.src.utils.data_utils",  # Keras 2.13+
    "keras.utils.data_utils",  # Keras 2 before 2.13
    "tf_keras.src.utils.data_utils",
)


def patch_keras(module: Any) -> None:
    """Post-import hook: ``get_file`` downloads under the lock, through a renamed file."""
    original = getattr(module, "urlretrieve", None)
    if callable(original) and not hasattr(original, "__wrapped__"):
        module.urlretrieve = locked_urlretrieve(original)
