"""The server: GitHub/GitLab/Gitea webhooks, a durable run queue, the REST API and dashboard.

``create_app`` (in ``app.py``) is the entry point; FastAPI and SQLAlchemy are imported only
when this package is, never at CLI start-up.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # lazy so `import trainchain.server.webhooks` does not pull in the whole app
    if name == "create_app":
        from trainchain.server.app import create_app

        return create_app
    raise AttributeError(name)
