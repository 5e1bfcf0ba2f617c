"""Serve paths of the author's machine from elsewhere (``TRAINCHAIN_PATH_MAP``).

A script that reads ``/root/input.txt`` runs on a machine where that file is the repository's
``input.txt`` (or a file given with ``--data /root/input.txt=PATH``). The local runtime cannot
create ``/root/...``, so the agent redirects the file functions the script reaches (``open``,
``io.open`` and so ``pathlib``, ``os.stat`` and so ``os.path.exists``/``isfile``/``isdir``,
``os.listdir``, ``os.scandir`` and so ``os.walk``) for paths under a mapped name. Docker mounts
the file at that path instead and needs none of this.
"""

from __future__ import annotations

import builtins
import functools
import io
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from trainchain.agent import contract

logger = logging.getLogger(__name__)


WRITE_FLAG = "trainchain_write"  # set on the FileNotFoundError of an open() for writing


def install() -> dict[str, str]:
    """Redirect the mapped paths; the mapping (empty when there is none). Either way, a
    failed ``open`` for writing is marked: a missing output directory is not a missing input."""
    builtins.open = io.open = _mark_writes(io.open)
    text = os.environ.get(contract.PATH_MAP, "")
    if not text:
        return {}
    try:
        mapping = {str(k).rstrip("/") or "/": str(v) for k, v in json.loads(text).items()}
    except (ValueError, AttributeError):
        logger.warning("TRAINCHAIN_PATH_MAP is not a JSON object; no path is redirected")
        return {}
    translate = functools.partial(_translate, mapping)
    builtins.open = io.open = _wrap(io.open, translate)
    for name in ("stat", "lstat", "listdir", "scandir", "access"):
        setattr(os, name, _wrap(getattr(os, name), translate))
    return mapping


def _mark_writes(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def marked(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FileNotFoundError as exc:
            mode = args[1] if len(args) > 1 else kwargs.get("mode", "r")
            if isinstance(mode, str) and set(mode) & set("wax+"):
                setattr(exc, WRITE_FLAG, True)
            raise

    return marked


def _translate(mapping: dict[str, str], path: Any) -> Any:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path.startswith("/"):
        return path
    for name, target in mapping.items():
        if path == name:
            return target
        if path.startswith(name + "/"):
            return target + path[len(name) :]
    return path


def _wrap(func: Callable[..., Any], translate: Callable[[Any], Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def redirected(*args: Any, **kwargs: Any) -> Any:
        if args:
            args = (translate(args[0]), *args[1:])
        else:  # open(file=...), os.listdir(path=...)
            for key in ("file", "path"):
                if key in kwargs:
                    kwargs[key] = translate(kwargs[key])
        return func(*args, **kwargs)

    return redirected
