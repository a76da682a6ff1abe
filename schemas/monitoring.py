"""What the workers measure about themselves, for the admin dashboard.

The existing tables say when a document was created and finished, not how long
each stage took nor which workers are alive. Each worker writes both here itself
(`workers.monitor`): one row per finished stage task and a heartbeat row per
worker. That works on every broker, the server-less one included, on which Celery
sends no events. Rows carry no personal data: stage, outcome, seconds, worker name.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.db import Base, utcnow


class StageRun(Base):
    """One run of a stage task (rasterise, ocr_page, finish, deliver_webhook)."""

    __tablename__ = "stage_runs"
    __table_args__ = (Index("ix_stage_runs_stage_finished", "stage", "finished_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(String(32))
    #: succeeded, failed or retried
    outcome: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    worker: Mapped[str] = mapped_column(String(200))


class WorkerBeat(Base):
    """A worker's last sign of life; `stopped_at` is set when it shuts down cleanly."""

    __tablename__ = "worker_heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
