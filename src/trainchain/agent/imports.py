"""Post-import hooks: run a patch right after a module (keras, click, sklearn) is imported.

The agent may not import frameworks itself (they may be absent, and importing TensorFlow costs
seconds), so it waits for the script to import them. A meta-path finder wraps the loader of
the watched modules; the callback runs once the module's code has executed.

A warm start (``warm``) imports the script's frameworks ahead, before the script runs. Their
hooks then still wait for the script: ``defer`` holds them until the script's first ``import``
of that framework (a wrapper on ``builtins.__import__`` while any are held), so the seeds are
set at the same point of the script as on a cold start (after the script's own ``random.seed``
and before its model is built).
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import logging
import random
import sys
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

Hook = Callable[[types.ModuleType], None]

_hooks: dict[str, list[Hook]] = {}
_lock = threading.RLock()
# Imported ahead (a warm start), in import order: (triggers, modules, words drawn from Python's
# random by that import). The script's import of a trigger releases the held hooks of that
# group's modules and of the earlier groups' (a later group imported those too: so would the
# script's import of it on a cold start), and draws those words again.
_groups: list[tuple[frozenset[str], frozenset[str], int]] = []
_held: set[str] = set()  # module names whose hooks wait for the script's import
_real_import = builtins.__import__


def install(hooks: Mapping[str, Hook]) -> None:
    """Register ``{module name: hook}``; each hook runs once, right after that import."""
    for name, hook in hooks.items():
        when_imported(name, hook)


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` after ``name`` is imported (at once if it already is)."""
    with _lock:
        module = sys.modules.get(name)
        if module is None or name in _held:
            _hooks.setdefault(name, []).append(hook)
            if module is None:
                _install_finder()
            return
    _run(hook, module)


def defer(groups: Sequence[tuple[Sequence[str], Sequence[str], int]]) -> None:
    """Modules imported ahead of the script: ``(triggers, modules, words)`` per group, in import
    order. Hooks for ``modules`` wait until the script imports one of ``triggers`` (or of a
    later group's), as if that import had loaded them (drawing ``words`` from ``random``)."""
    with _lock:
        for triggers, modules, words in groups:
            _groups.append((frozenset(triggers), frozenset(modules), words))
            _held.update(m for m in modules if m in sys.modules)
        if _groups:
            builtins.__import__ = _watching_import


def _watching_import(
    name: str,
    globals: Mapping[str, object] | None = None,  # noqa: A002 - __import__'s own signature
    locals: Mapping[str, object] | None = None,  # noqa: A002
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> types.ModuleType:
    module = _real_import(name, globals, locals, fromlist, level)
    if level == 0:
        top = name.partition(".")[0]
        last = max((i for i, group in enumerate(_groups) if top in group[0]), default=-1)
        if last >= 0:
            _release(last)
    return module


def _release(last: int) -> None:
    """Run the held hooks of groups ``0..last``: the script has imported group ``last``."""
    with _lock:
        released = _groups[: last + 1]
        modules = frozenset().union(*(group[1] for group in released)) & _held
        for _ in range(sum(group[2] for group in released)):
            random.getrandbits(32)
        del _groups[: last + 1]
        _held.difference_update(modules)
        if not _groups:
            builtins.__import__ = _real_import
        order = {name: i for i, name in enumerate(sys.modules)}  # thousands, for a few hooks
        hooked = sorted((n for n in modules if n in _hooks), key=order.__getitem__)
        ready = [(n, _hooks.pop(n)) for n in hooked]
    for name, hooks in ready:
        for hook in hooks:
            _run(hook, sys.modules[name])


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
