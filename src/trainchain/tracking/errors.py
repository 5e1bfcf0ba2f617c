"""The tracking export's error (to be moved into ``trainchain.errors`` by the lead)."""

from __future__ import annotations

from trainchain.errors import StoreError


class TrackingError(StoreError):
    """The MLflow backend could not be read or written (a remote store, like the database)."""
