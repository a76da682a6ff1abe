"""API keys: random, shown once, stored as SHA-256 (they carry 256 bits, so no slow hash needed)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from schemas.db import ApiKey

SCOPES = ("scans:write", "records:read", "records:read_personal", "audit:read", "admin")
PREFIX = "sohoa_"


@dataclass(frozen=True)
class Client:
    """Who is calling: the key's name, its agency and what it may do."""

    name: str
    agency_code: str | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session, name: str, scopes: list[str], agency_code: str | None = None
) -> str:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    key = PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(name=name, key_hash=hash_key(key), scopes=" ".join(scopes), agency_code=agency_code)
    )
    session.commit()
    return key


def authenticate(session: Session, key: str | None) -> Client | None:
    if not key or not key.startswith(PREFIX) or len(key) > 200:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    return Client(row.name, row.agency_code, frozenset(row.scopes.split()))
