"""Run a callback right after a module is imported, without importing it ourselves.

The agent must not import keras, click or sklearn (they may be absent, and importing TensorFlow
costs seconds): a ``sys.meta_path`` finder wraps the loader of the watched modules so the hook
runs once the module's body has executed, before the importer gets it back.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType

logger = logging.getLogger(__name__)

Hook = Callable[[ModuleType], None]


class PostImportFinder(importlib.abc.MetaPathFinder):
    """Find watched modules through the other finders, then wrap their loader's exec_module."""

    def __init__(self, hooks: dict[str, Hook]) -> None:
        self._hooks = dict(hooks)
        self._busy = threading.local()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        hook = self._hooks.get(fullname)
        if hook is None or getattr(self._busy, "name", None) == fullname:
            return None
        self._busy.name = fullname
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.name = None
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        _wrap_loader(spec.loader, fullname, hook)
        return spec


def _wrap_loader(loader: importlib.abc.Loader, fullname: str, hook: Hook) -> None:
    original = loader.exec_module

    def exec_module(module: ModuleType) -> None:
        original(module)
        run_hook(fullname, hook, module)

    # The loader instance belongs to this one spec, so patching it touches nothing else, and
    # ``module.__loader__`` stays the real loader for importlib.resources and friends.
    loader.exec_module = exec_module  # type: ignore[method-assign]


def run_hook(fullname: str, hook: Hook, module: ModuleType) -> None:
    try:
        hook(module)
    except Exception as exc:  # noqa: BLE001 - a broken hook must never break the user's import
        logger.warning("could not hook %s (%s: %s); training continues without it",
                       fullname, type(exc).__name__, exc)


def install(hooks: dict[str, Hook]) -> None:
    """Watch ``hooks``' modules; modules already imported are hooked at once."""
    pending = {}
    for name, hook in hooks.items():
        module = sys.modules.get(name)
        if module is not None:
            run_hook(name, hook, module)
        else:
            pending[name] = hook
    if pending:
        sys.meta_path.insert(0, PostImportFinder(pending))
