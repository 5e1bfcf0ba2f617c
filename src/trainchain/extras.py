"""Optional dependencies ("extras"): one table, one check, one message with the install hint.

Like Optuna's ``_imports.try_import``: a feature that needs an extra calls ``require`` before
it starts work, so a missing package is a usage error (exit 2) naming the extra to install,
never a ``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

import importlib.util

from trainchain.errors import UsageError

# extra -> the top-level modules it provides (as imported, not as named on PyPI)
EXTRAS: dict[str, tuple[str, ...]] = {
    "server": ("fastapi", "uvicorn", "jinja2"),
    "docker": ("docker",),
    "jenkins": ("jenkins_jobs",),
    "postgres": ("psycopg",),
    "mlflow": ("mlflow",),
    "ray": ("ray",),
}


class MissingExtraError(UsageError):
    """A feature needs an optional dependency that is not installed."""

    def __init__(self, extra: str, feature: str, missing: list[str]) -> None:
        super().__init__(
            f"{feature} needs the optional '{extra}' dependencies, and "
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed: "
            f"pip install 'trainchain[{extra}]'"
        )
        self.extra = extra


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, feature: str) -> None:
    """Raise ``MissingExtraError`` unless every module of ``extra`` is installed."""
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(extra, feature, missing)


def extra_for_module(module: str) -> str | None:
    """The extra that provides ``module`` (a dotted name is matched by its top level)."""
    top = module.partition(".")[0]
    return next((extra for extra, names in EXTRAS.items() if top in names), None)
