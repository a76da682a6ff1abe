"""Webhook subscriptions, their delivery log (an outbox), and the payload other systems get.

A delivery row is written in the same transaction as the change it announces
(`workers.webhooks.emit_event`), so an event is never announced for a change that
was rolled back, nor lost for one that was committed; a worker then sends it.

The subscription's `secret` is stored as given to the client: HMAC needs the same
key on both sides, so it cannot be hashed like an API key. Whoever can read this
table can forge signatures; keep database backups as protected as the API keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from schemas.db import Base, utcnow

RECORD_PUBLISHED = "record.published"
RECORD_NEEDS_REVIEW = "record.needs_review"
EVENTS = (RECORD_PUBLISHED, RECORD_NEEDS_REVIEW)
EventName = Literal["record.published", "record.needs_review"]


class DeliveryStatus:
    """pending (waiting for its next attempt) -> delivered | failed (gave up)."""

    pending = "pending"
    delivered = "delivered"
    failed = "failed"


DeliveryStatusName = Literal["pending", "delivered", "failed"]


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(100), index=True)  # the API key's name
    # The key's agency: only that agency's records are announced (None: every agency).
    agency_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))  # see the module docstring
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription; its attempts update this row (the delivery log)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    # The idempotency key receivers dedupe on: the same for every attempt and subscription.
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Short and made by us (e.g. "http_503", "timeout"): never the receiver's answer.
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookPayload(BaseModel):
    """The JSON body of every delivery: what changed, never the paper's fields.

    Receivers fetch the record itself with their own key (and so are audited).
    """

    event: EventName
    event_id: str = Field(description="UUID; the same on every retry: dedupe on it.")
    occurred_at: datetime
    record_code: str
    doc_type: str
    status: str = Field(description="The record's status.")
    version: int
    dossier_code: str | None
    document_id: str
