"""The audit log as a hash chain: entries are written, then sealed into the chain.

Each entry's hash is the SHA-256 of its canonical content (id, time, actor, agency,
action, record, citizen, dossier, purpose, detail) together with the previous
entry's hash, so editing, deleting or reordering a sealed entry breaks every hash
after it. Only truncating the newest entries leaves a valid chain: compare the head
(`chain_head`) with one noted elsewhere to catch that.

Writing and chaining are two steps. An entry is first inserted with a row in
`audit_pending`, in the same transaction as the read it records, by any number of
writers at once. `seal` then takes the chain's lock (PostgreSQL: an advisory lock;
SQLite: its single write lock), reads the head and adds, for every pending entry in
id order, a link to `audit_chain` (seq, entry, previous hash, hash). Entries are
never updated. `append` does both in the caller's transaction; the API's hot reads
only write, and a sealer in each API process (api/sealer.py) seals within a second,
so readers never queue on one lock. The cost: a pending entry is not yet protected
by the chain. `verify_chain` also fails on an entry that is neither chained nor
pending (one put there by hand).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.orm import Session

from schemas.db import AuditEntry, AuditLink, AuditPending, utcnow

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
        select(AuditLink.seq, AuditLink.entry_hash).order_by(AuditLink.seq.desc()).limit(1)
    ).first()
    return (int(last[0]), str(last[1])) if last is not None else (0, GENESIS)


def seal(session: Session, *, wait: bool = True, limit: int = 5000) -> int:
    """Chain up to `limit` pending entries (oldest id first); returns how many.

    Under the chain's lock, held until the caller commits: commit right after. With
    `wait=False` (PostgreSQL) it returns 0 at once when another process is sealing.
    """
    if _is_postgres(session):
        # The same chaining in the server (audit_seal, migration 0008): no Python per entry.
        sealed = session.scalar(text("SELECT audit_seal(:n, :wait)"), {"n": limit, "wait": wait})
        return int(sealed or 0)
    # SQLite: the caller's INSERT, or else the INSERT below, holds the write lock.
    todo = list(
        session.scalars(
            select(AuditEntry)
            .join(AuditPending, AuditPending.entry_id == AuditEntry.id)
            .order_by(AuditEntry.id)
            .limit(limit)
        )
    )
    if not todo:
        return 0
    seq, prev = _head(session)
    for entry in todo:
        seq += 1
        digest = entry_digest(_content(entry), prev)
        session.add(AuditLink(seq=seq, entry_id=entry.id, prev_hash=prev, entry_hash=digest))
        prev = digest
    session.execute(delete(AuditPending).where(AuditPending.entry_id.in_([e.id for e in todo])))
    session.flush()
    return len(todo)


def write(session: Session, **fields: Any) -> AuditEntry:
    """Add one entry, pending (flushed, not committed; not chained until sealed)."""
    entry = AuditEntry(at=utcnow(), **fields)
    session.add(entry)
    session.flush()
    session.add(AuditPending(entry_id=entry.id))
    session.flush()
    return entry


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
    entry = write(
        session,
        actor=actor,
        action=action,
        agency_code=agency_code,
        record_code=record_code,
        personal_id=personal_id,
        dossier_code=dossier_code,
        purpose=purpose,
        detail=detail,
    )
    seal(session)
    return entry


def pending(session: Session) -> int:
    """Entries written but not yet sealed into the chain."""
    return int(session.scalar(select(func.count()).select_from(AuditPending)) or 0)


def _links(session: Session) -> Iterator[tuple[AuditLink, AuditEntry | None]]:
    """Every link in chain order, with its entry (None when the entry is gone)."""
    rows = session.execute(
        select(AuditLink, AuditEntry)
        .outerjoin(AuditEntry, AuditEntry.id == AuditLink.entry_id)
        .order_by(AuditLink.seq)
        .execution_options(yield_per=1000)
    )
    yield from ((link, entry) for link, entry in rows)


def verify_chain(session: Session) -> tuple[bool, int | None]:
    """(True, None) when the chain is whole; else (False, the first bad entry's id).

    Whole: links numbered 1..n without a gap, each naming an existing entry whose
    content hashes, with the previous link's hash, to the link's hash; and no entry
    outside the chain that is not pending either.
    """
    prev, expected = GENESIS, 1
    for link, entry in _links(session):
        if (
            entry is None
            or link.seq != expected
            or link.prev_hash != prev
            or link.entry_hash != entry_digest(_content(entry), prev)
        ):
            return False, link.entry_id
        prev, expected = link.entry_hash, expected + 1
    stray = session.scalar(
        select(AuditEntry.id)
        .where(
            ~exists().where(AuditLink.entry_id == AuditEntry.id),
            ~exists().where(AuditPending.entry_id == AuditEntry.id),
        )
        .order_by(AuditEntry.id)
        .limit(1)
    )
    return (True, None) if stray is None else (False, int(stray))


@dataclass(frozen=True)
class ChainHead:
    entries: int
    last_id: int | None
    last_hash: str


def chain_head(session: Session) -> ChainHead:
    """How long the chain is and where it ends: note it elsewhere to detect truncation."""
    count = session.scalar(select(func.count()).select_from(AuditLink)) or 0
    last = session.execute(
        select(AuditLink.entry_id, AuditLink.entry_hash).order_by(AuditLink.seq.desc()).limit(1)
    ).first()
    if last is None:
        return ChainHead(0, None, GENESIS)
    return ChainHead(int(count), int(last[0]), str(last[1]))
