"""The audit log as a hash chain: entries are written, then sealed into the chain.

Each entry's `entry_hash` is the SHA-256 of its canonical content (id, time, actor,
agency, action, record, citizen, dossier, purpose, detail) together with the
previous entry's hash, so editing, deleting or reordering a sealed entry breaks
every hash after it. Only truncating the newest entries leaves a valid chain:
compare the head (`chain_head`) with one noted elsewhere to catch that.

Writing and chaining are two steps. An entry is first inserted *pending* (no
`seq`, no hashes), in the same transaction as the read it records, by any number
of writers at once. `seal` then takes the chain's lock (PostgreSQL: an advisory
lock; SQLite: its single write lock), reads the head and gives every pending
entry, in id order, the next `seq` and its hashes. `append` does both in the
caller's transaction; the API's hot reads only insert, and a sealer in each API
process (api/sealer.py) seals within a second, so readers never queue on one lock.
The cost: a pending entry is not yet protected by the chain. `verify_chain`
reports how many there are.

"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from schemas.db import AuditEntry, utcnow

GENESIS = "0" * 64

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


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _head(session: Session) -> tuple[int, str]:
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    return (int(last[0] or 0), last[1] or GENESIS) if last is not None else (0, GENESIS)


def seal(session: Session, *, wait: bool = True, limit: int = 5000) -> int:
    """Chain up to `limit` pending entries (oldest id first); returns how many.

    Under the chain's lock, held until the caller commits: commit right after. With
    `wait=False` it returns 0 at once when another process is sealing.
    """
    if _is_postgres(session):
        # The same chaining in the server (audit_seal, migration 0008): no Python per entry.
        sealed = session.scalar(text("SELECT audit_seal(:n, :wait)"), {"n": limit, "wait": wait})
        return int(sealed or 0)
    # SQLite: the caller's INSERT, or else this UPDATE, holds the database's write lock.
    pending = (
        session.execute(
            select(AuditEntry.__table__)
            .where(AuditEntry.seq.is_(None))
            .order_by(AuditEntry.id)
            .limit(limit)
        )
        .mappings()
        .all()
    )
    if not pending:
        return 0
    seq, prev = _head(session)
    changes = []
    for row in pending:
        seq += 1
        digest = entry_digest(dict(row), prev)
        changes.append({"id": row["id"], "seq": seq, "prev_hash": prev, "entry_hash": digest})
        prev = digest
    session.execute(update(AuditEntry), changes)
    return len(changes)


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
    """Add one entry and seal it (with any pending ones) in the caller's transaction.

    Flushed, not committed: commit right after, the chain's lock is held until then.
    """
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        agency_code=agency_code,
        record_code=record_code,
        personal_id=personal_id,
        dossier_code=dossier_code,
        purpose=purpose,
        detail=detail,
    )
    session.add(entry)
    session.flush()
    seal(session)
    session.refresh(entry)
    return entry


def pending(session: Session) -> int:
    """Entries written but not yet sealed into the chain."""
    return int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None)))
        or 0
    )


def _entries(session: Session) -> Iterator[AuditEntry]:
    yield from session.scalars(
        select(AuditEntry)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=1000)
    )


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """(True, None) when every sealed entry links to the one before, in `seq` order, with
    no gap; else (False, the id of the first entry that does not). Pending entries are
    not part of the chain yet: see `pending`."""
    prev, expected = GENESIS, 1
    for entry in _entries(session):
        if (
            entry.seq != expected
            or entry.prev_hash != prev
            or entry.entry_hash != entry_digest(_content(entry), prev)
        ):
            return False, entry.id
        prev, expected = entry.entry_hash, expected + 1
    return True, None


@dataclass(frozen=True)
class ChainHead:
    entries: int
    last_id: int | None
    last_hash: str


def chain_head(session: Session) -> ChainHead:
    """How long the chain is and where it ends: note it elsewhere to detect truncation."""
    count = (
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_not(None))
        )
        or 0
    )
    last = session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    if last is None:
        return ChainHead(0, None, GENESIS)
    return ChainHead(count, last[0], last[1] or "")
