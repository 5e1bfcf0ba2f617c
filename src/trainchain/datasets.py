"""Prefetch: the controller fills the machine's dataset cache before the baseline.

A run-time download whose files and URLs are known (``detection/datasets.json``, or the
``origin=`` a script gives ``get_file``) is fetched here, once per machine, whatever the
runtime: Docker trials have no network, and local trials then read the cache instead of racing
on it. ``TRAINCHAIN_DATASETS_MIRROR`` names a server holding a copy of a dataset cache
(``<mirror>/keras/datasets/mnist.npz``), used instead of the origins (an offline site's mirror).
Each file is taken under the cache's download lock and renamed into place whole
(``agent.download_lock``, shared with local trials' own downloads).
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.error
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainchain.agent.download_lock import fetch_atomically, first_download
from trainchain.settings import operator_settings

MIRROR_ENV = "TRAINCHAIN_DATASETS_MIRROR"
REPORT_BYTES = 8 << 20  # files this large say how far they are, in quarters


def known_files(item: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(file under the cache, url, sha256)`` of a detected download whose sources are known."""
    files = [str(f) for f in item.get("files") or []]
    urls = [str(u) for u in item.get("urls") or []]
    hashes = [str(h) for h in item.get("sha256") or []] or [""] * len(urls)
    if not urls or len(urls) != len(files):
        return []
    return list(zip(files, urls, hashes, strict=False))


def source_url(item: dict[str, Any], name: str, url: str) -> str:
    """Where ``name`` is fetched from: the mirror when the operator set one, else its origin."""
    mirror = (operator_settings().datasets_mirror or "").rstrip("/")
    return f"{mirror}/{item['cache']}/{name}" if mirror else url


def refused(url: str) -> str | None:
    """Why the controller will not fetch a URL a script names (pushed code must not make the
    server read its internal network into a cache trials can read): https to a public address
    only. None when it may."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return "only https URLs a script names are fetched by the controller"
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"{parts.hostname} does not resolve ({exc})"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return f"{parts.hostname} is a non-public address ({address})"
    return None


def prefetch(item: dict[str, Any], cache: Path, say: Callable[[str], None]) -> str | None:
    """Fetch the missing files of ``item`` into ``cache``; None when all are there, else why
    not, naming the dataset, the URL, the cache path and the files to place by hand."""
    where = cache / str(item["cache"])
    for name, url, sha256 in known_files(item):
        target = where / name
        if target.exists():
            continue
        source = source_url(item, name, url)
        why = refused(source) if item.get("urls_from_script") and source == url else None
        if why:
            return _problem(item, where, source, why)
        try:
            with first_download(str(target)):
                if target.exists():  # another run fetched it while this one waited
                    say(f"dataset {item['dataset']!r}: {target} was fetched by another run")
                    continue
                say(f"dataset {item['dataset']!r}: fetching {source} into {target}")
                started = time.monotonic()
                size = fetch_atomically(source, str(target), _progress(name, say), sha256)
                say(
                    f"dataset {item['dataset']!r}: {name} fetched, {size / 1e6:.1f} MB in "
                    f"{time.monotonic() - started:.1f} s"
                )
        except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
            return _problem(item, where, source, _reason(exc))
    return None


def _problem(item: dict[str, Any], where: Path, source: str, why: str) -> str:
    files = "\n".join(f"      {where / f}  <- {u}" for f, u, _ in known_files(item))
    return (
        f"  - {item['call']} ({item['file']}:{item['line']}) downloads {item['dataset']!r} at "
        f"run time; the controller could not fetch {source} into the dataset cache ({why}); "
        f"put these files there:\n{files}"
    )


def _progress(name: str, say: Callable[[str], None]) -> Callable[[int, int, int], None]:
    said = [0]

    def hook(blocks: int, block_size: int, total: int) -> None:
        if total < REPORT_BYTES:
            return
        quarter = min(4, blocks * block_size * 4 // total)
        if 0 < quarter < 4 and quarter > said[0]:
            said[0] = quarter
            say(f"  {name}: {quarter * 25}% of {total / 1e6:.0f} MB")

    return hook


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return str(exc)  # "HTTP Error 404: Not Found"
    reason = getattr(exc, "reason", None)  # URLError wraps the socket error
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"
