"""SQLAlchemy tables: projects, runs, stages, trials, attempts, epochs, models, deliveries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "tc_projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    branch: Mapped[str] = mapped_column(String(200), default="main")
    secret_env: Mapped[str | None] = mapped_column(String(200))
    poll_seconds: Mapped[float | None] = mapped_column(Float)
    last_seen_commit: Mapped[str | None] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Run(Base):
    __tablename__ = "tc_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("tc_projects.id"))
    name: Mapped[str] = mapped_column(String(200))  # model name in the registry
    source: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(String(200))
    branch: Mapped[str | None] = mapped_column(String(200))
    commit: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(20), default="cli")
    status: Mapped[str] = mapped_column(String(30), default="queued", index=True)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # CLI overrides, as given
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # resolved config
    snapshot: Mapped[str | None] = mapped_column(Text)  # path of the fetched commit's copy
    profile: Mapped[str | None] = mapped_column(String(40))
    detection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metric_name: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    failed_stage: Mapped[str | None] = mapped_column(String(20))
    became_champion: Mapped[bool] = mapped_column(default=False)
    model_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    stages: Mapped[list[StageRun]] = relationship(order_by="StageRun.id", lazy="selectin")
    trials: Mapped[list[Trial]] = relationship(order_by="Trial.number", lazy="selectin")


class StageRun(Base):
    __tablename__ = "tc_stage_runs"
    __table_args__ = (UniqueConstraint("run_id", "stage"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("tc_runs.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Trial(Base):
    __tablename__ = "tc_trials"
    __table_args__ = (UniqueConstraint("run_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("tc_runs.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 0 = baseline
    optuna_number: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="running")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    value: Mapped[float | None] = mapped_column(Float)
    metric_name: Mapped[str | None] = mapped_column(String(100))
    metric_source: Mapped[str | None] = mapped_column(String(40))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)  # every final metric seen
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)  # architecture, applied params
    model_path: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    attempts: Mapped[list[Attempt]] = relationship(order_by="Attempt.number", lazy="selectin")
    epochs: Mapped[list[EpochMetric]] = relationship(order_by="EpochMetric.id", lazy="selectin")


class Attempt(Base):
    __tablename__ = "tc_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("tc_trials.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    reason: Mapped[str] = mapped_column(Text, default="")
    first_epoch: Mapped[int | None] = mapped_column(Integer)
    last_epoch: Mapped[int | None] = mapped_column(Integer)
    resumed_from: Mapped[int | None] = mapped_column(Integer)
    process_id: Mapped[str | None] = mapped_column(String(80))  # pid or container id
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class EpochMetric(Base):
    __tablename__ = "tc_epoch_metrics"
    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("tc_trials.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ModelVersion(Base):
    __tablename__ = "tc_model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(ForeignKey("tc_runs.id"))
    trial: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    metric_name: Mapped[str] = mapped_column(String(100))
    goal: Mapped[str] = mapped_column(String(10))
    value: Mapped[float] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    curves: Mapped[list[Any]] = mapped_column(default=list)
    commit: Mapped[str | None] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(200))
    profile: Mapped[str | None] = mapped_column(String(40))
    data_fingerprint: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ModelAlias(Base):
    __tablename__ = "tc_model_aliases"
    __table_args__ = (UniqueConstraint("name", "alias"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    alias: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Notification(Base):
    __tablename__ = "tc_notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("tc_runs.id"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(40))
    ok: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "tc_webhook_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(100), unique=True)
    provider: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(40))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("tc_projects.id"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
