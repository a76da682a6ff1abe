"""`sohoa doctor`: find what a crash or a bad disk left between the store and the database.

Intake writes the original before its row (workers/ingest.py), so a crash in between
leaves an original without a row; a lost object or a restored old database leaves a
row without an original. `find_orphans` finds both and, asked to repair, re-ingests
the orphan (a row is created and the file queued: the original is never deleted) and
marks the orphaned row failed with ``object_missing``. `rehash` is the sanity check:
every original re-hashed against its content address, every record's current
artifacts against the signed manifest (pipeline.verify.check_record).

Both are plain functions returning a `Report`; repairs are idempotent, so running the
doctor twice changes nothing the second time. Run the repair as a start-up sweep,
before the doors open: an original being ingested at that moment looks like an orphan.
Reports name object keys of originals (SHA-256), document IDs and record row IDs, never
record codes (they carry a citizen's ID number) or file names.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select, update

from pipeline import errors, signing, verify
from pipeline.intake import sha256_of
from schemas.db import Document, DocumentStatus, RecordRow, utcnow
from workers.services import Services, original_key

log = logging.getLogger(__name__)

_ORIGINAL = re.compile(r"^originals/(?P<sha>[0-9a-f]{64})$")
MISSING_MESSAGE = "The original is missing from the store."


@dataclass
class Problem:
    """One inconsistency and what the doctor did about it."""

    #: orphan_original, original_missing, original_corrupt, stray_object, record_artifact
    kind: str
    subject: str  # an object key, "document <id>" or "record <row id>"
    detail: str
    action: str = ""  # what was done, or why nothing was
    resolved: bool = False  # repaired now, or already marked by an earlier run


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing left to do: every problem is repaired or was already marked."""
        return all(p.resolved for p in self.problems)

    def extend(self, other: Report) -> Report:
        self.problems.extend(other.problems)
        for k, v in other.checked.items():
            self.checked[k] = self.checked.get(k, 0) + v
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "problems": [asdict(p) for p in self.problems],
        }


def find_orphans(services: Services, repair: bool = False, enqueue: bool = True) -> Report:
    """Originals without a documents row, and rows whose original is gone.

    With ``repair``: an orphan original whose bytes match its address is ingested
    again (row created, queued when ``enqueue``); a row without its original is marked
    failed with ``object_missing``. Nothing in the store is ever deleted.
    """
    report = Report()
    keys = services.store.list("originals/")
    with services.sessions() as session:
        rows = list(session.execute(select(Document.id, Document.sha256, Document.error_code)))
    known = {sha for _id, sha, _code in rows}
    report.checked = {"originals": len(keys), "documents": len(rows)}
    for key in keys:
        m = _ORIGINAL.match(key)
        if m is None:
            report.problems.append(
                Problem("stray_object", key, "Not a content address; left in place.")
            )
        elif m["sha"] not in known:
            report.problems.append(_orphan(services, m["sha"], repair, enqueue))
    present = set(keys)
    for doc_id, sha, code in rows:
        if original_key(sha) in present:
            continue
        subject = f"document {doc_id}"
        if code == errors.ObjectMissing.code:
            report.problems.append(
                Problem(
                    "original_missing",
                    subject,
                    MISSING_MESSAGE,
                    "already marked failed (object_missing)",
                    True,
                )
            )
        elif repair:
            _mark_missing(services, doc_id)
            report.problems.append(
                Problem(
                    "original_missing",
                    subject,
                    MISSING_MESSAGE,
                    "marked failed (object_missing)",
                    True,
                )
            )
        else:
            report.problems.append(Problem("original_missing", subject, MISSING_MESSAGE))
    return report


def _orphan(services: Services, sha: str, repair: bool, enqueue: bool) -> Problem:
    from workers.ingest import ingest_bytes

    key = original_key(sha)
    problem = Problem("orphan_original", key, "An original with no documents row.")
    if not repair:
        return problem
    data = services.store.get(key)
    if sha256_of(data) != sha:
        problem.kind = "original_corrupt"
        problem.detail = "An original with no row, whose bytes do not match its SHA-256."
        problem.action = "left in place: not ingested"
        return problem
    # The file's name was never recorded; the row says where it came from instead.
    ing = ingest_bytes(services, f"recovered-{sha[:12]}", data, enqueue=enqueue)
    problem.action = f"created document {ing.document_id} ({ing.status})" + (
        ", queued" if enqueue and ing.error is None and ing.duplicate_of is None else ""
    )
    problem.resolved = True
    log.warning("doctor: re-ingested orphan original %s as document=%s", sha[:12], ing.document_id)
    return problem


def _mark_missing(services: Services, document_id: str) -> None:
    with services.sessions() as session:
        session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(
                status=DocumentStatus.failed,
                error_code=errors.ObjectMissing.code,
                error_message=MISSING_MESSAGE,
                finished_at=utcnow(),
            )
        )
        session.commit()
    log.warning("doctor: document=%s marked failed: original missing", document_id)


def rehash(services: Services, sample: int | None = None, seed: int | None = None) -> Report:
    """Re-hash originals against their address and records against their manifests.

    ``sample``: check only that many originals and that many records, chosen at
    random (the periodic check); None checks everything.
    """
    report = Report()
    with services.sessions() as session:
        shas = sorted(set(session.scalars(select(Document.sha256))))
        record_ids = list(session.scalars(select(RecordRow.id).order_by(RecordRow.id)))
    if sample is not None:
        rng = random.Random(seed)
        shas = rng.sample(shas, min(sample, len(shas)))
        record_ids = rng.sample(record_ids, min(sample, len(record_ids)))
    for sha in shas:
        key = original_key(sha)
        try:
            data = services.store.get(key)
        except errors.ObjectMissing:
            continue  # find_orphans reports (and marks) a missing original
        if sha256_of(data) != sha:
            report.problems.append(
                Problem("original_corrupt", key, "The original's SHA-256 differs from its address.")
            )
    keys = signing.AgencyKeys.from_settings(services.settings) if record_ids else None
    for row_id in record_ids:
        with services.sessions() as session:
            row = session.get(RecordRow, row_id)
            if row is None:  # deleted since the list was read
                continue
            artifacts, fields = dict(row.artifacts), dict(row.body.get("fields", {}))
            code, document_id = row.record_code, row.document_id
        assert keys is not None
        bad = _check_record(services, code, artifacts, fields, keys)
        if bad:
            report.problems.append(
                Problem(
                    "record_artifact",
                    f"record {row_id}",
                    f"document {document_id}: " + "; ".join(bad),
                )
            )
    report.checked = {"originals_rehashed": len(shas), "records_rehashed": len(record_ids)}
    return report


def _check_record(
    services: Services,
    record_code: str,
    artifacts: dict[str, Any],
    fields: dict[str, Any],
    keys: signing.AgencyKeys,
) -> list[str]:
    """The failing checks of one record, as "name: detail" (details hold no personal data)."""
    blobs: dict[str, bytes | None] = {}
    for kind in (*signing.HASHED_ARTIFACTS, "manifest"):
        key = artifacts.get(kind)
        try:
            blobs[kind] = services.store.get(key) if isinstance(key, str) else None
        except errors.ObjectMissing:
            blobs[kind] = None
    checks = verify.check_record(
        record_code=record_code,
        manifest_raw=blobs.pop("manifest"),
        blobs=blobs,
        row_fields=fields,
        keys=keys,
    )
    return [f"{c.name}: {c.detail}" for c in checks if not c.ok]
