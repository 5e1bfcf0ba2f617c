"""Find the last fitted top-level scikit-learn estimator, to save it when the script ends.

When ``sklearn.base`` is imported, ``BaseEstimator.__init_subclass__`` is wrapped so that every
estimator class defined afterwards (all of scikit-learn's, and the script's own) gets a ``fit``
that tracks nesting: only a ``fit`` called outside any other ``fit`` (a Pipeline, not its steps;
a GridSearchCV, not its clones) and on the main thread counts.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import threading
from types import ModuleType
from typing import Any

from trainchain.agent import events, state

_local = threading.local()
_last: dict[str, Any] = {}


def patch(base_module: ModuleType) -> None:
    base = getattr(base_module, "BaseEstimator", None)
    if base is None or getattr(base, "_trainchain_hooked", False):
        return
    own = base.__dict__.get("__init_subclass__")

    def init_subclass(cls: type, /, **kwargs: Any) -> None:
        if own is not None:
            own.__func__(cls, **kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)
        fit = cls.__dict__.get("fit")
        if callable(fit) and not getattr(fit, "_trainchain", False):
            cls.fit = _tracked(fit)  # type: ignore[attr-defined]

    base.__init_subclass__ = classmethod(init_subclass)
    base._trainchain_hooked = True


def _tracked(fit: Any) -> Any:
    @functools.wraps(fit)
    def tracked_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        depth = getattr(_local, "depth", 0)
        top = depth == 0 and threading.current_thread() is threading.main_thread()
        _local.depth = depth + 1
        try:
            with state.get().training() if top else contextlib.nullcontext():
                result = fit(self, *args, **kwargs)
        finally:
            _local.depth = depth
        if top:
            _last["estimator"] = self
        return result

    tracked_fit._trainchain = True  # type: ignore[attr-defined]
    return tracked_fit


def last_fitted() -> Any:
    return _last.get("estimator")


def save_estimator(estimator: Any, output_dir: str) -> str:
    """Save with joblib when present (it ships with scikit-learn), else pickle."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "model.joblib")
    try:
        import joblib
    except ImportError:
        with open(path, "wb") as fh:
            pickle.dump(estimator, fh)
    else:
        joblib.dump(estimator, path)
    events.emit("model", path=path, framework=_framework(estimator))
    return path


def _framework(obj: Any) -> str:
    root = type(obj).__module__.split(".")[0]
    return {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm"}.get(root, root)
