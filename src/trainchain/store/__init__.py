"""The state store: one database (SQLite in WAL mode by default, or TRAINCHAIN_DB_URL).

Every write commits before the caller moves on, so a killed controller loses at most the
step it was in; a failed write raises ``StoreError`` (nothing is lost silently).

``Store`` is the one facade: every query is a method named for what it answers, grouped by
subject in ``runs``, ``trials``, ``registry`` and ``projects``; no module outside this package
builds a query or opens a session (``tests/unit/test_store_facade.py``).
"""

from __future__ import annotations

from trainchain.store.models import (
    Attempt,
    EpochMetric,
    ModelAlias,
    ModelVersion,
    Notification,
    Project,
    Run,
    StageRun,
    Trial,
    WebhookDelivery,
    utcnow,
)
from trainchain.store.projects import ProjectQueries
from trainchain.store.registry import RegistryQueries
from trainchain.store.runs import RunQueries
from trainchain.store.trials import TrialQueries

__all__ = [
    "Attempt",
    "EpochMetric",
    "ModelAlias",
    "ModelVersion",
    "Notification",
    "Project",
    "Run",
    "StageRun",
    "Store",
    "Trial",
    "WebhookDelivery",
    "utcnow",
]


class Store(RunQueries, TrialQueries, RegistryQueries, ProjectQueries):
    """Database access. Thread-safe: each query is its own unit of work."""
