"""Database tables (SQLAlchemy) and the engine/session helpers.

Status and progress live here so that the CLI, the API and every worker see
the same truth. Schema changes go through Alembic (`schemas/migrations`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class DocumentStatus:
    """Lifecycle of an ingested file (a "document" in the API)."""

    received = "received"
    rasterising = "rasterising"
    ocr = "ocr"
    classifying = "classifying"
    ready = "ready"
    needs_review = "needs_review"
    rejected = "rejected"
    failed = "failed"
    #: Byte-identical to a file already ingested (Document.duplicate_of): not digitised again.
    duplicate = "duplicate"
    #: A transient fault (store, database, OCR engine) outlasted the task's retries: the work
    #: done so far is kept and `sohoa retry` resumes it. Not final: it needs an operator.
    parked = "parked"

    FINAL = frozenset({ready, needs_review, rejected, failed, duplicate})
    #: Work in progress: a worker holds (or should hold) the document.
    ACTIVE = frozenset({rasterising, ocr, classifying})
    #: Stopped without a result: shown as needing action; `sohoa retry` picks them up.
    NEEDS_ACTION = frozenset({parked, failed})


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(255))
    dossier_code: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(32), index=True, default=DocumentStatus.received)
    page_count: Mapped[int] = mapped_column(Integer, default=0)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: A byte-identical file already ingested: this row links to it instead of re-digitising.
    duplicate_of: Mapped[str | None] = mapped_column(String(32), nullable=True)


class PageStatus:
    """A page's state; `attempts` counts starts of its OCR that did not end cleanly."""

    pending = "pending"
    done = "done"
    #: Killed its worker `POISON_AFTER` times: the document is rejected with poison_page.
    poison = "poison"
    #: Hit a limit or could not be read (the document is rejected with the page's code).
    failed = "failed"


class Page(Base):
    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default=PageStatus.pending)
    rotation: Mapped[int] = mapped_column(Integer, default=0)
    mean_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class RecordRow(Base):
    """The current version of a record; every version (this one too) is in record_versions."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_code: Mapped[str] = mapped_column(String(200), unique=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    first_page: Mapped[int] = mapped_column(Integer)
    doc_type: Mapped[str] = mapped_column(String(64), index=True)
    personal_id: Mapped[str | None] = mapped_column(String(16), index=True, nullable=True)
    dossier_code: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifacts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    validity: Mapped[str] = mapped_column(String(16), default="unknown")
    valid_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    valid_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    agency_code: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    #: pipeline.lifecycle.identity_key: same type and identity fields = the same paper.
    identity_key: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (UniqueConstraint("document_id", "first_page"),)


class RecordVersion(Base):
    """Every version of every record, kept: corrections and re-scans never overwrite."""

    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("record_code", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_code: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str] = mapped_column(String(32))
    #: digitised, rescan, correction, approval, rejection
    reason: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    artifacts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Dossier(Base):
    """A dossier received at a one-stop-shop desk: the denominator of both KPIs."""

    __tablename__ = "dossiers"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_code: Mapped[str] = mapped_column(String(32), index=True)
    received_on: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DossierRecord(Base):
    """A record that is part of a dossier: scanned for it (submitted) or reused into it."""

    __tablename__ = "dossier_records"
    __table_args__ = (UniqueConstraint("dossier_code", "record_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dossier_code: Mapped[str] = mapped_column(ForeignKey("dossiers.code"), index=True)
    record_code: Mapped[str] = mapped_column(String(200), index=True)
    relation: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(255))
    agency_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Requests per minute for this key; None: the default (SOHOA_RATE_LIMIT_PER_MINUTE).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # After a rotation with a grace period, the old secret's hash keeps working until then.
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    previous_valid_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class AuditEntry(Base):
    """One access to personal data, a download, a reuse, an approval or a key change.

    Written through `schemas.audit` only, and never updated: its place in the hash
    chain is a row of AuditLink, added when the entry is sealed (schemas/audit.py).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    record_code: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    personal_id: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    agency_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dossier_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


class AuditLink(Base):
    """An audit entry's place in the hash chain: its hash covers the entry's content and
    the previous link's hash, so a changed, removed or reordered entry breaks the chain."""

    __tablename__ = "audit_chain"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditPending(Base):
    """Entries written but not yet sealed into the chain: the sealer's to-do list."""

    __tablename__ = "audit_pending"

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: an error's text must not carry record bodies into the logs.
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")
