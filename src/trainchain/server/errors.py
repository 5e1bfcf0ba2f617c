"""HTTP-specific members of the ``trainchain.errors`` tree (only the server raises them)."""

from __future__ import annotations

from trainchain.errors import UsageError


class UnauthorizedError(UsageError):
    """A missing or wrong API token or webhook signature."""

    http_status = 401


class PayloadTooLargeError(UsageError):
    """A webhook body over the size limit."""

    http_status = 413


class ConflictError(UsageError):
    """The thing to create already exists (a project name)."""

    http_status = 409


class TooManyStreamsError(UsageError):
    """Every log-stream slot is taken."""

    http_status = 429
