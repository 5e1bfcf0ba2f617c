"""scikit-learn's and torchvision's dataset downloads under the cache's lock (standard library
only; the libraries are reached through the modules the post-import hooks hand over).

Their downloaders write a file under a directory of the shared dataset cache. Wrapped, each
takes ``first_download``'s ``flock`` on that file: a trial that finds it whole (and matching
the library's checksum) uses it; otherwise the library's own downloader (its retries, redirects
and checks) writes into a private directory beside the target, renamed into place once done,
so racing trials download a file once and never read a half-written one.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from trainchain.agent.download_lock import CHUNK, first_download


def _whole(path: str, expected: str | None, algorithm: str) -> bool:
    """The file is there and, when the library gave its digest, matches it."""
    if not os.path.isfile(path):
        return False
    if not expected:
        return True
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest() == expected.lower()


def _into_place(target: str, produce: Callable[[str], Any]) -> Any:
    """Run ``produce(private directory)``, which returns the path it wrote, then rename that
    file to ``target``; return what ``produce`` returned."""
    folder = os.path.dirname(os.path.abspath(target))
    private = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", suffix=".part", dir=folder)
    try:
        produced = produce(private)
        os.chmod(produced, 0o644)  # a temporary file's 0600 would hide it from other users
        os.replace(produced, target)
        return produced
    finally:
        shutil.rmtree(private, ignore_errors=True)


def locked_fetch_remote(original: Callable[..., Any]) -> Callable[..., Any]:
    """``sklearn.datasets._base._fetch_remote(remote, dirname=None, ...)``, which every
    ``fetch_*`` but ``fetch_openml`` calls to write ``remote.filename`` under ``dirname``."""

    def _fetch_remote(remote: Any, dirname: Any = None, *args: Any, **kwargs: Any) -> Any:
        target = os.path.join(os.fspath(dirname) if dirname is not None else ".", remote.filename)
        if _whole(target, remote.checksum, "sha256"):  # no lock: a read-only cache stays usable
            return pathlib.Path(target)
        with first_download(target):
            if _whole(target, remote.checksum, "sha256"):  # another trial fetched it meanwhile
                return pathlib.Path(target)
            produced = _into_place(
                target, lambda private: original(remote, private, *args, **kwargs)
            )
        return pathlib.Path(target) if isinstance(produced, pathlib.PurePath) else target

    _fetch_remote.__wrapped__ = original  # type: ignore[attr-defined]
    return _fetch_remote


def patch_sklearn_base(module: Any) -> None:
    """Post-import hook of ``sklearn.datasets._base``: it runs before the ``fetch_*`` modules
    bind ``_fetch_remote`` with ``from ._base import``, so they all get the locked one."""
    original = getattr(module, "_fetch_remote", None)
    if callable(original) and not hasattr(original, "__wrapped__"):
        module._fetch_remote = locked_fetch_remote(original)


def patch_sklearn_openml(module: Any) -> None:
    """Post-import hook of ``sklearn.datasets._openml``: ``_open_openml_url(url, data_home)``
    already renames its download into place; the lock makes racing trials fetch it once."""
    original = getattr(module, "_open_openml_url", None)
    local_path = getattr(module, "_get_local_path", None)
    if not callable(original) or not callable(local_path) or hasattr(original, "__wrapped__"):
        return
    # older scikit-learn passes the cache-relative path itself, not the URL
    relative = getattr(module, "_openml_path_from_url", lambda path: path)

    def _open_openml_url(url: str, data_home: Any, *args: Any, **kwargs: Any) -> Any:
        target = data_home and local_path(relative(url), data_home)
        if not target or os.path.exists(target):  # no cache, or nothing to download
            return original(url, data_home, *args, **kwargs)
        with first_download(target):
            return original(url, data_home, *args, **kwargs)

    _open_openml_url.__wrapped__ = original  # type: ignore[attr-defined]
    module._open_openml_url = _open_openml_url


def locked_download_url(original: Callable[..., Any]) -> Callable[..., Any]:
    """torchvision's ``download_url(url, root, filename=None, md5=None, ...)``, which writes
    ``root/filename`` in place (``download_and_extract_archive`` and the datasets call it)."""

    def download_url(
        url: str, root: Any, filename: str | None = None, md5: str | None = None, *a: Any, **kw: Any
    ) -> Any:
        name = filename or os.path.basename(url)
        target = os.path.join(os.path.expanduser(os.fspath(root)), name)

        def fetch(private: str) -> str:
            original(url, private, name, md5, *a, **kw)
            return os.path.join(private, name)

        if os.path.dirname(name):  # a sub-path: the library's own behaviour, locked only
            with first_download(target):
                return original(url, root, filename, md5, *a, **kw)
        if _whole(target, md5, "md5"):
            return None
        with first_download(target):
            if _whole(target, md5, "md5"):
                return None
            _into_place(target, fetch)
        return None

    download_url.__wrapped__ = original  # type: ignore[attr-defined]
    return download_url


def patch_torchvision(module: Any) -> None:
    """Post-import hook of ``torchvision.datasets.utils`` (before the dataset modules bind
    ``download_url`` with ``from .utils import``)."""
    original = getattr(module, "download_url", None)
    if callable(original) and not hasattr(original, "__wrapped__"):
        module.download_url = locked_download_url(original)


HOOKS = {
    "sklearn.datasets._base": patch_sklearn_base,
    "sklearn.datasets._openml": patch_sklearn_openml,
    "torchvision.datasets.utils": patch_torchvision,
}
