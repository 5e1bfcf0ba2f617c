"""scikit-learn's and torchvision's dataset downloads under the cache's lock (standard library
only; the libraries are reached through the modules the post-import hooks hand over).

Their downloaders write a file under a directory of the shared dataset cache. Wrapped, each
takes ``first_download``'s ``flock`` on that file: a trial that finds it whole (and matching
the library's checksum) uses it; otherwise the library's own downloader (its retries, redirects
and checks) writes into a private directory beside the target, renamed into place once done,
so racing trials download a file once and never read a half-written one. A whole ``fetch_*``
call holds a lock of its ``data_home`` too: what it does after the download (extract, convert,
delete the archive) never runs twice at once. With ``TRAINCHAIN_DATASETS_MIRROR`` set, the
downloads are read from that mirror (``contract.DATASETS_MIRROR``: the origin's host and path
under the library's folder).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import pathlib
import shutil
import tempfile
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

from trainchain.agent.contract import DATASETS_MIRROR
from trainchain.agent.download_lock import CHUNK, first_download

WHOLE_FETCH_LOCK = "fetch"  # data_home/.fetch.lock: one fetch_* at a time per data_home
_held = threading.local()  # .homes: the data homes this thread holds (a fetch_* in a fetch_*)


def mirrored(url: str, library: str) -> str:
    """``url`` as the operator's mirror serves it (unchanged without a mirror)."""
    mirror = os.environ.get(DATASETS_MIRROR, "").rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if not mirror or parts.scheme not in ("http", "https") or not parts.hostname:
        return url
    if url.startswith(mirror + "/"):
        return url  # already the mirror's
    return f"{mirror}/{library}/{parts.hostname}{parts.path}"


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
        if hasattr(remote, "_replace"):  # RemoteFileMetadata, a named tuple
            remote = remote._replace(url=mirrored(remote.url, "sklearn"))
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


def locked_fetch(original: Callable[..., Any], data_home_of: Callable[[Any], str]) -> Any:
    """A ``fetch_*`` of scikit-learn run whole under its ``data_home``'s lock: two trials never
    extract or delete one archive at once. A cache it cannot write (read-only) needs no lock."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def fetch(*args: Any, **kwargs: Any) -> Any:
        try:
            given = signature.bind_partial(*args, **kwargs).arguments.get("data_home")
        except TypeError:
            return original(*args, **kwargs)  # the library says what is wrong with the call
        home = data_home_of(given)
        held: set[str] = _held.__dict__.setdefault("homes", set())
        if home in held or not os.access(home, os.W_OK):
            return original(*args, **kwargs)
        with first_download(os.path.join(home, WHOLE_FETCH_LOCK)):
            held.add(home)
            try:
                return original(*args, **kwargs)
            finally:
                held.discard(home)

    fetch.trainchain_locked = True  # type: ignore[attr-defined]
    return fetch


def patch_sklearn_datasets(module: Any) -> None:
    """Post-import hook of ``sklearn.datasets``: its ``fetch_*`` functions, as scripts reach
    them (``sklearn.datasets.fetch_covtype``, ``from sklearn.datasets import ...``)."""
    get_data_home = getattr(module, "get_data_home", None)
    if not callable(get_data_home):
        return

    def data_home_of(given: Any) -> str:
        return str(os.fspath(get_data_home(given)))  # creates it, as every fetch_* does

    for name in [n for n in dir(module) if n.startswith("fetch_")]:
        original = getattr(module, name)
        # not __wrapped__: scikit-learn's own parameter validation wraps every fetch_*
        if callable(original) and not getattr(original, "trainchain_locked", False):
            setattr(module, name, locked_fetch(original, data_home_of))


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
    urlopen = getattr(module, "urlopen", None)
    if callable(urlopen):  # the cache path comes from the origin URL: mirror the request only
        module.urlopen = _mirrored_urlopen(urlopen)


def _mirrored_urlopen(original: Callable[..., Any]) -> Callable[..., Any]:
    def urlopen(request: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(request, "full_url"):
            request.full_url = mirrored(request.full_url, "sklearn")
        elif isinstance(request, str):
            request = mirrored(request, "sklearn")
        return original(request, *args, **kwargs)

    return urlopen


def locked_download_url(original: Callable[..., Any]) -> Callable[..., Any]:
    """torchvision's ``download_url(url, root, filename=None, md5=None, ...)``, which writes
    ``root/filename`` in place (``download_and_extract_archive`` and the datasets call it)."""

    def download_url(
        url: str, root: Any, filename: str | None = None, md5: str | None = None, *a: Any, **kw: Any
    ) -> Any:
        name = filename or os.path.basename(url)
        url = mirrored(url, "torchvision")
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
    "sklearn.datasets": patch_sklearn_datasets,
    "sklearn.datasets._openml": patch_sklearn_openml,
    "torchvision.datasets.utils": patch_torchvision,
}
