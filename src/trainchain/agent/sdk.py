"""The tiny SDK a script may call: ``import trainchain.agent as tc; tc.log_metric(...)``.

Every function works with or without the runner (``python -m trainchain.agent``): outside
trainchain, events are simply not written, and the directories default to ``./output``.
"""

from __future__ import annotations

import math
import os
from typing import Any

from trainchain.agent import events, state


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a metric; the SDK's metrics take precedence over every other source."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"log_metric: the name must be a non-empty string, got {name!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"log_metric({name!r}, ...): the value must be a number, got {value!r}; "
            "pass float(...) of it"
        ) from None
    if math.isnan(number):
        raise ValueError(f"log_metric({name!r}, nan): the value is NaN; log a real number")
    fields: dict[str, Any] = {"name": name, "value": number, "source": "sdk"}
    if step is not None:
        fields["step"] = int(step)
    events.emit("metric", **fields)


def output_dir() -> str:
    """Where the model and artifacts go (created if needed)."""
    path = state.get().output_dir
    os.makedirs(path, exist_ok=True)
    return path


def checkpoint_dir() -> str:
    """A directory that survives restarts of the same trial (created if needed)."""
    path = state.get().checkpoint_dir
    os.makedirs(path, exist_ok=True)
    return path


def params() -> dict[str, Any]:
    """This trial's parameters (``TRAINCHAIN_PARAMS``); reading them counts as applying them."""
    st = state.get()
    for name, value in st.params.items():
        st.mark_applied(name, value, "env")
    return dict(st.params)


def log_model(model: Any) -> str:
    """Register the trial's model: a path the script saved, or an estimator/Keras model to save.

    Returns the path recorded. The agent's own automatic saving is skipped afterwards.
    """
    st = state.get()
    if isinstance(model, str | os.PathLike):
        path = os.path.abspath(os.fspath(model))
        if not os.path.exists(path):
            raise FileNotFoundError(f"log_model: {path} does not exist; save the model there first")
        events.emit("model", path=path, framework=_framework_of_path(path))
    elif type(model).__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow"):
        path = os.path.join(output_dir(), "model.keras")
        model.save(path)
        events.emit("model", path=path, framework="keras")
    else:
        from trainchain.agent import sklearn_hook

        path = sklearn_hook.save_estimator(model, output_dir())
    st.model_logged = True
    return path


def _framework_of_path(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    return {
        ".keras": "keras", ".h5": "keras", ".joblib": "sklearn", ".pkl": "pickle",
        ".pt": "pytorch", ".pth": "pytorch", ".onnx": "onnx",
    }.get(ext, "unknown")  # fmt: skip
