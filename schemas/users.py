"""People who sign in to the web pages: operators at the desk and admins.

Client systems use API keys (`api_keys`); people use a user name and a password,
stored only as an Argon2 hash (`api/sessions.py`). A user is disabled, never
deleted, so that the audit log's `user:<name>` entries keep naming someone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from schemas.db import Base, utcnow

ROLES = ("operator", "admin")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: operator or admin (ROLES).
    role: Mapped[str] = mapped_column(String(16))
    #: The agency the user works for; their calls act for it, like a key bound to an agency.
    agency_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
