"""The error tree. Every message names the thing, the bad value and the fix.

Each error carries an ``exit_code`` (as click's ``ClickException`` does) and an ``http_status``
used by the server's single exception handler.
"""

from __future__ import annotations


class TrainchainError(Exception):
    """Root of every error trainchain raises on purpose (user mistakes and failed runs)."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(TrainchainError):
    """The command line or an argument is wrong."""

    exit_code = 2
    http_status = 400


class ConfigError(UsageError):
    """``trainchain.yaml`` or a setting is invalid."""


class SourceError(UsageError):
    """The source to train (path, git URL, ref) cannot be fetched."""


class DetectionError(UsageError):
    """Nothing to train was found, or the entrypoint cannot be read."""


class NotFoundError(UsageError):
    """A run, model or project that was asked for does not exist."""

    http_status = 404


class EnvironmentBuildError(TrainchainError):
    """A virtualenv or image could not be built."""


class RuntimeUnavailableError(TrainchainError):
    """The chosen runtime (e.g. the Docker engine) cannot be reached."""


class TrialFailedError(TrainchainError):
    """A trial ended without a usable metric."""


class TargetNotReachedError(TrainchainError):
    """The budget was spent below the target; the best model is still registered."""

    exit_code = 3


class StoreError(TrainchainError):
    """The database could not be read or written."""


class NotifyError(TrainchainError):
    """A notification could not be delivered."""
