"""Queries about watched projects and the webhook deliveries that name them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from trainchain.errors import NotFoundError
from trainchain.store.base import StoreBase
from trainchain.store.models import Project, Run, WebhookDelivery


class ProjectQueries(StoreBase):
    def projects(self) -> list[Project]:
        """Every project, by name."""
        with self.session() as s:
            return list(s.scalars(select(Project).order_by(Project.name)))

    def polled_projects(self) -> list[Project]:
        """The projects watched by polling their remote (a poll interval is set)."""
        with self.session() as s:
            return list(s.scalars(select(Project).where(Project.poll_seconds.is_not(None))))

    def add_project(self, name: str, url: str, **fields: Any) -> Project | None:
        """The new project, or None when a project of that name exists."""
        with self.session() as s:
            if s.scalars(select(Project.id).where(Project.name == name)).first() is not None:
                return None
            project = Project(name=name, url=url, **fields)
            s.add(project)
            s.flush()
            return project

    def remove_project(self, name: str) -> None:
        """Delete project ``name``; its runs and deliveries stay as history, detached."""
        with self.session() as s:
            project = s.scalars(select(Project).where(Project.name == name)).first()
            if project is None:
                raise NotFoundError(f"no project {name!r}; `trainchain projects list` shows them")
            s.execute(update(Run).where(Run.project_id == project.id).values(project_id=None))
            s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.project_id == project.id)
                .values(project_id=None)
            )
            s.delete(project)

    def set_last_seen_commit(self, project_id: int, commit: str) -> None:
        """The head of the watched branch a poll last saw (a removed project: no-op)."""
        with self.session() as s:
            row = s.get(Project, project_id)
            if row is not None:
                row.last_seen_commit = commit

    # -- webhook deliveries -----------------------------------------------------------------
    def record_delivery(self, delivery_id: str, **fields: Any) -> None:
        """Record a webhook delivery; ``StoreError`` if its id was recorded already."""
        with self.session() as s:
            s.add(WebhookDelivery(delivery_id=delivery_id, **fields))

    def delivery(self, delivery_id: str) -> WebhookDelivery | None:
        with self.session() as s:
            return s.scalars(
                select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)
            ).first()

    def delivery_counts_by_result(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(
                select(WebhookDelivery.result, func.count()).group_by(WebhookDelivery.result)
            ).all()
        return {str(result): int(n) for result, n in rows}
