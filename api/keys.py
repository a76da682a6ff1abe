"""API keys: random, shown once, stored as SHA-256 (they carry 256 bits, so no slow hash needed).

Each key belongs to one client system, acts for one agency and holds scopes. Keys
are created, listed, rotated and revoked here; the callers (CLI, admin API) append
the change to the audit log in the same transaction and commit.

Rotation replaces the secret of the same key (same id, scopes, agency, limit). The
old secret stops working at once, or after a grace period of at most
`Settings.key_rotation_max_grace_s` when the rotation asks for one, so a client
system can switch without a gap.

Checked keys are cached per process for `Settings.auth_cache_ttl_s` seconds (hash →
Client), so most calls skip the database. `invalidate(key_id)` drops a key from this
process's cache at once (the admin API calls it after a revocation or rotation);
other processes notice within the cache's time to live.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from schemas.db import ApiKey, utcnow

SCOPES = ("scans:write", "records:read", "records:read_personal", "audit:read", "admin")
PREFIX = "sohoa_"


class KeyNotFound(LookupError):
    """No key with this id."""


class KeyRevoked(ValueError):
    """The key is revoked: it cannot be rotated or used again."""


@dataclass(frozen=True)
class Client:
    """Who is calling: the key's name, its agency and what it may do."""

    name: str
    agency_code: str | None
    scopes: frozenset[str]
    key_id: int | None = None
    #: The key's own requests-per-minute limit; None: the default from settings.
    rate_limit_per_minute: int | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: never its secret nor its hash."""

    id: int
    name: str
    agency_code: str | None
    scopes: list[str]
    rate_limit_per_minute: int | None
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    previous_valid_until: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _aware(at: datetime | None) -> datetime | None:
    """SQLite gives times back without their zone; they were written in UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def _info(row: ApiKey) -> KeyInfo:
    grace = _aware(row.previous_valid_until)
    if grace is not None and grace <= utcnow():
        grace = None
    return KeyInfo(
        id=row.id,
        name=row.name,
        agency_code=row.agency_code,
        scopes=row.scopes.split(),
        rate_limit_per_minute=row.rate_limit_per_minute,
        created_at=_aware(row.created_at) or row.created_at,
        rotated_at=_aware(row.rotated_at),
        revoked_at=_aware(row.revoked_at),
        previous_valid_until=grace,
    )


def check_scopes(scopes: list[str]) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if not scopes:
        raise ValueError(f"give at least one scope; known: {', '.join(SCOPES)}")


def _secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def issue_key(
    session: Session,
    name: str,
    scopes: list[str],
    agency_code: str | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[KeyInfo, str]:
    """Add a key (flushed, not committed) and return it with its secret, shown once."""
    check_scopes(scopes)
    if rate_limit_per_minute is not None and rate_limit_per_minute < 0:
        raise ValueError("rate limit must be >= 0 (0: no limit)")
    key = _secret()
    row = ApiKey(
        name=name,
        key_hash=hash_key(key),
        scopes=" ".join(dict.fromkeys(scopes)),
        agency_code=agency_code,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    session.add(row)
    session.flush()
    return _info(row), key


def create_key(
    session: Session,
    name: str,
    scopes: list[str],
    agency_code: str | None = None,
    rate_limit_per_minute: int | None = None,
) -> str:
    """Add a key and commit (with whatever else the session holds, e.g. its audit entry)."""
    _, key = issue_key(session, name, scopes, agency_code, rate_limit_per_minute)
    session.commit()
    return key


def list_keys(session: Session, include_revoked: bool = True) -> list[KeyInfo]:
    q = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        q = q.where(ApiKey.revoked_at.is_(None))
    return [_info(row) for row in session.scalars(q)]


def _row(session: Session, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id, with_for_update=True)
    if row is None:
        raise KeyNotFound(key_id)
    return row


def rotate_key(
    session: Session, key_id: int, grace_seconds: int = 0, max_grace_seconds: int = 3600
) -> tuple[KeyInfo, str]:
    """Give the key a new secret (flushed, not committed); the old one works `grace_seconds` more.

    The same row keeps its id, scopes, agency and limit, so nothing else needs updating.
    """
    if not 0 <= grace_seconds <= max_grace_seconds:
        raise ValueError(f"grace period must be 0..{max_grace_seconds} seconds")
    row = _row(session, key_id)
    if row.revoked_at is not None:
        raise KeyRevoked(key_id)
    key = _secret()
    now = utcnow()
    if grace_seconds:
        row.previous_key_hash = row.key_hash
        row.previous_valid_until = now + timedelta(seconds=grace_seconds)
    else:
        row.previous_key_hash = None
        row.previous_valid_until = None
    row.key_hash = hash_key(key)
    row.rotated_at = now
    session.flush()
    invalidate(key_id)
    return _info(row), key


def revoke_key(session: Session, key_id: int) -> tuple[KeyInfo, bool]:
    """Revoke the key and any old secret in grace (flushed, not committed); (info, changed)."""
    row = _row(session, key_id)
    changed = row.revoked_at is None or row.previous_key_hash is not None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    row.previous_key_hash = None
    row.previous_valid_until = None
    session.flush()
    invalidate(key_id)
    return _info(row), changed


# --- authentication and its per-process cache -----------------------------------------


@dataclass(frozen=True)
class _Cached:
    client: Client | None  # None: known bad (unknown, revoked, expired), also cached briefly
    looked_up_at: float
    expires_at: float


class AuthCache:
    """Key hash → Client for a few seconds; a key invalidated here is never served stale.

    An entry is ignored when its key was invalidated after the entry's lookup began,
    which also covers a lookup that raced with the revoking transaction's commit.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: dict[str, _Cached] = {}
        self._invalidated: dict[int, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def get(self, digest: str, now: float) -> _Cached | None:
        hit = self._entries.get(digest)
        if hit is None or hit.expires_at <= now:
            return None
        key_id = hit.client.key_id if hit.client else None
        if key_id is not None and self._invalidated.get(key_id, -1.0) >= hit.looked_up_at:
            return None
        return hit

    def put(self, digest: str, entry: _Cached) -> None:
        key_id = entry.client.key_id if entry.client else None
        with self._lock:
            if key_id is not None and self._invalidated.get(key_id, -1.0) >= entry.looked_up_at:
                return
            if len(self._entries) >= self._max:
                now = time.monotonic()
                self._entries = {d: e for d, e in self._entries.items() if e.expires_at > now}
                if len(self._entries) >= self._max:
                    self._entries.clear()
            self._entries[digest] = entry

    def invalidate(self, key_id: int) -> None:
        with self._lock:
            self._invalidated[key_id] = time.monotonic()
            self._entries = {
                d: e
                for d, e in self._entries.items()
                if e.client is None or e.client.key_id != key_id
            }

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = AuthCache()


def invalidate(key_id: int) -> None:
    """Forget a key in this process now (call after the change is committed, too)."""
    _cache.invalidate(key_id)


def well_formed(key: str | None) -> bool:
    """Shaped like one of our keys: anything else is refused without hashing or a lookup."""
    return key is not None and key.startswith(PREFIX) and len(key) <= 200


def cached_client(key: str | None, cache_ttl: float) -> tuple[bool, Client | None]:
    """(True, answer) when the answer needs no database: a malformed key or a cache hit."""
    if key is None or not well_formed(key):
        return True, None
    if cache_ttl <= 0:
        return False, None
    hit = _cache.get(hash_key(key), time.monotonic())
    return (True, hit.client) if hit is not None else (False, None)


def authenticate(session: Session, key: str | None, cache_ttl: float = 0.0) -> Client | None:
    """The client behind a key, or None; answers from the cache when `cache_ttl` > 0."""
    if key is None or not well_formed(key):
        return None
    digest = hash_key(key)
    now = time.monotonic()
    if cache_ttl > 0:
        hit = _cache.get(digest, now)
        if hit is not None:
            return hit.client
    found, valid_until = _lookup(session, digest)
    if cache_ttl > 0:
        expires = now + cache_ttl
        if valid_until is not None:  # an old secret in grace: not past its end
            expires = min(expires, now + (valid_until - utcnow()).total_seconds())
        _cache.put(digest, _Cached(found, now, expires))
    return found


def _lookup(session: Session, digest: str) -> tuple[Client | None, datetime | None]:
    """(client, end of grace when the digest is an old secret's) from the database."""
    row = session.scalar(
        select(ApiKey).where(or_(ApiKey.key_hash == digest, ApiKey.previous_key_hash == digest))
    )
    if row is None or row.revoked_at is not None:
        return None, None
    valid_until = None
    if row.key_hash != digest:
        valid_until = _aware(row.previous_valid_until)
        if valid_until is None or valid_until <= utcnow():
            return None, None
    client = Client(
        row.name,
        row.agency_code,
        frozenset(row.scopes.split()),
        key_id=row.id,
        rate_limit_per_minute=row.rate_limit_per_minute,
    )
    return client, valid_until
