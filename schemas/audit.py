"""The audit log as a hash chain: append under a lock, verify from the first entry.

Each entry's `entry_hash` is the SHA-256 of its canonical content (id, time, actor,
agency, action, record, citizen, dossier, purpose, detail) together with the
previous entry's hash, so editing, deleting or reordering an entry breaks every
hash after it. Only truncating the newest entries leaves a valid chain: compare
the head (`chain_head`) with one noted elsewhere to catch that.

`append` serialises writers: on PostgreSQL with a transaction-scoped advisory
lock, after which one statement draws the new id(s) from the sequence and reads
the head, and the entry is inserted with its hashes already computed; on SQLite
the INSERT itself takes the database's single write lock before the previous
entry is read. The lock is held until the caller commits, so callers commit
straight away.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from schemas.db import AuditEntry, utcnow

GENESIS = "0" * 64
#: Any fixed 64-bit number: the key of PostgreSQL's advisory lock on the chain head.
_PG_LOCK_KEY = 0x50_48_4F_41_55_44_49_54

HASHED = (
    "id",
    "at",
    "actor",
    "agency_code",
    "action",
    "record_code",
    "personal_id",
    "dossier_code",
    "purpose",
    "detail",
)


def _when(at: datetime) -> str:
    """One spelling of a time whatever the database gave back (SQLite drops the zone)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_digest(content: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of an entry's content and the previous hash."""
    body = {k: content.get(k) for k in HASHED}
    if isinstance(body["at"], datetime):
        body["at"] = _when(body["at"])
    body["prev_hash"] = prev_hash
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _content(entry: AuditEntry) -> dict[str, Any]:
    return {k: getattr(entry, k) for k in HASHED}


def _lock_chain(session: Session) -> None:
    if _is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _ids_and_head(session: Session, n: int) -> tuple[list[int], str]:
    """Under the lock: n new ids and the newest entry's hash, in one round trip."""
    rows = session.execute(
        text(
            "SELECT nextval(pg_get_serial_sequence('audit_log', 'id')),"
            " (SELECT entry_hash FROM audit_log ORDER BY id DESC LIMIT 1)"
            " FROM generate_series(1, :n)"
        ),
        {"n": n},
    ).all()
    return sorted(int(r[0]) for r in rows), (rows[0][1] if rows else None) or GENESIS


def _chained(fields: list[dict[str, Any]], ids: list[int], head: str) -> list[dict[str, Any]]:
    """Rows ready to insert: each with its id, time and the hashes linking it to the last."""
    rows, prev = [], head
    for entry_id, f in zip(ids, fields, strict=True):
        row = {k: f.get(k) for k in HASHED if k not in ("id", "at")}
        row.update(id=entry_id, at=utcnow())
        row["prev_hash"] = prev
        row["entry_hash"] = prev = entry_digest(row, prev)
        rows.append(row)
    return rows


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    agency_code: str | None = None,
    record_code: str | None = None,
    personal_id: str | None = None,
    dossier_code: str | None = None,
    purpose: str | None = None,
    detail: str | None = None,
) -> AuditEntry:
    """Add one chained entry to the session (flushed, not committed: commit right after)."""
    fields = {
        "actor": actor,
        "action": action,
        "agency_code": agency_code,
        "record_code": record_code,
        "personal_id": personal_id,
        "dossier_code": dossier_code,
        "purpose": purpose,
        "detail": detail,
    }
    if _is_postgres(session):
        _lock_chain(session)
        ids, head = _ids_and_head(session, 1)
        entry = AuditEntry(**_chained([fields], ids, head)[0])
        session.add(entry)
        session.flush()
        return entry
    entry = AuditEntry(at=utcnow(), **fields)
    session.add(entry)
    session.flush()  # the id; on SQLite this INSERT holds the write lock from here on
    prev = session.scalar(
        select(AuditEntry.entry_hash)
        .where(AuditEntry.id < entry.id)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    entry.prev_hash = prev or GENESIS
    entry.entry_hash = entry_digest(_content(entry), entry.prev_hash)
    session.flush()
    return entry


def _entries(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    )


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """(True, None) when every entry links to the one before; else (False, first bad id)."""
    prev = GENESIS
    for entry in _entries(session):
        if entry.prev_hash != prev or entry.entry_hash != entry_digest(_content(entry), prev):
            return False, entry.id
        prev = entry.entry_hash
    return True, None


@dataclass(frozen=True)
class ChainHead:
    entries: int
    last_id: int | None
    last_hash: str


def chain_head(session: Session) -> ChainHead:
    """How long the chain is and where it ends: note it elsewhere to detect truncation."""
    count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    last = session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if last is None:
        return ChainHead(0, None, GENESIS)
    return ChainHead(count, last[0], last[1] or "")
