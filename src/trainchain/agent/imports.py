"""Post-import hooks: run a patch right after a module (keras, click, sklearn) is imported.

The agent may not import frameworks itself (they may be absent, and importing TensorFlow costs
seconds), so it waits for the script to import them. A meta-path finder wraps the loader of
the watched modules; the callback runs once the module's code has executed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

Hook = Callable[[types.ModuleType], None]

_hooks: dict[str, list[Hook]] = {}
_lock = threading.RLock()


def install(hooks: Mapping[str, Hook]) -> None:
    """Register ``{module name: hook}``; each hook runs once, right after that import."""
    for name, hook in hooks.items():
        when_imported(name, hook)


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` after ``name`` is imported (at once if it already is)."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _hooks.setdefault(name, []).append(hook)
            _install_finder()
            return
    _run(hook, module)


def _run(hook: Hook, module: types.ModuleType) -> None:
    try:
        hook(module)
    except Exception:  # noqa: BLE001 - a failing patch must never break the user's import
        logger.warning("trainchain hook for %s failed", module.__name__, exc_info=True)


def _install_finder() -> None:
    if not any(isinstance(f, _HookFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _HookFinder())


class _HookFinder(importlib.abc.MetaPathFinder):
    """Finds watched modules through the other finders, then wraps their loader."""

    def __init__(self) -> None:
        self._busy = threading.local()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _hooks or getattr(self._busy, fullname.replace(".", "_"), False):
            return None
        setattr(self._busy, fullname.replace(".", "_"), True)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            setattr(self._busy, fullname.replace(".", "_"), False)
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _HookLoader(spec.loader, fullname)
        return spec


class _HookLoader(importlib.abc.Loader):
    """Delegates to the real loader; runs the hooks after ``exec_module``."""

    def __init__(self, loader: Any, fullname: str) -> None:
        self._loader = loader
        self._fullname = fullname

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        result: types.ModuleType | None = self._loader.create_module(spec)
        return result

    def exec_module(self, module: types.ModuleType) -> None:
        # Put the real loader back so introspection (importlib.resources, pkgutil) sees it.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        with _lock:
            hooks = _hooks.pop(self._fullname, [])
        for hook in hooks:
            _run(hook, module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
