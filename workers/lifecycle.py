"""A record's life in the database: saving digitised records, re-scans, corrections,
approval, rejection, dossiers and reuse links. The rules themselves are in
pipeline/lifecycle.py; this module applies them to rows and stored artifacts.

Every content change (digitised, re-scan, correction, approval) is a new version:
a row in record_versions and its own artifacts under records/{code}/v{n}/, sealed
with a new signed manifest. Old versions stay readable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.taxonomy import DOC_TYPES
from pipeline import errors, lifecycle
from pipeline import fields as field_rules
from pipeline.signing import AgencyKeys, seal_record, seal_version
from pipeline.storage import ObjectStore
from schemas.db import (
    Document,
    DocumentStatus,
    Dossier,
    DossierRecord,
    RecordRow,
    RecordVersion,
)
from schemas.record import FieldValue, Record, RecordStatus
from workers.services import original_key, record_key

#: Who acts when no person does: publication of confident records by policy.
SYSTEM_ACTOR = "sohoa"


def artifact_keys(record_code: str, version: int, original_sha256: str) -> dict[str, Any]:
    return {
        "original": original_key(original_sha256),
        "json": record_key(record_code, "record.json", version),
        "text": record_key(record_code, "text.txt", version),
        "pdf": record_key(record_code, "archive.pdf", version),
        "manifest": record_key(record_code, "manifest.json", version),
    }


def store_sealed(
    store: ObjectStore, artifacts: Mapping[str, Any], sealed: Mapping[str, bytes]
) -> None:
    store.put(artifacts["pdf"], sealed["pdf"], "application/pdf")
    store.put(artifacts["text"], sealed["text"], "text/plain; charset=utf-8")
    store.put(artifacts["json"], sealed["json"], "application/json")
    # The manifest goes last: its presence says every file it signs is stored.
    store.put(artifacts["manifest"], sealed["manifest"], "application/json")


def _record_json(record: Record) -> bytes:
    return json.dumps(record.model_dump(mode="json"), ensure_ascii=False, indent=2).encode()


def _with_validity(record: Record) -> Record:
    period = lifecycle.validity_of(record.doc_type, {k: v.value for k, v in record.fields.items()})
    return record.model_copy(
        update={
            "validity": period.kind,
            "valid_from": period.valid_from,
            "valid_until": period.valid_until,
        }
    )


@dataclass
class Planned:
    """A digitised record ready to seal: its final code, version and state."""

    record: Record
    artifacts: dict[str, Any]
    rescan_of: int | None = None  # id of the current row of the same paper
    hocr: list[str] = field(default_factory=list)


def plan_digitised(
    session: Session,
    record: Record,
    *,
    agency_code: str,
    auto_publish: bool,
    planned_keys: set[str],
) -> Planned:
    """Decide what a freshly digitised record becomes: a new record or a re-scan's version.

    A confident record (digitised) is published at once when `auto_publish` is on;
    a doubtful one waits for an operator in needs_review.
    """
    fields = {k: v.value for k, v in record.fields.items()}
    key = lifecycle.identity_key(record.doc_type, fields)
    same = None
    if key is not None and key not in planned_keys:
        same = session.scalar(
            select(RecordRow)
            .where(
                RecordRow.identity_key == key,
                RecordRow.status != RecordStatus.rejected.value,
                # A second run of the same file's finish is not a re-scan of itself.
                RecordRow.document_id != record.document_id,
            )
            .order_by(RecordRow.id)
            .limit(1)
        )
    if key is not None:
        planned_keys.add(key)
    status = record.status
    if status is RecordStatus.digitised and auto_publish:
        status = RecordStatus.published
    code, version = (same.record_code, same.version + 1) if same else (record.record_code, 1)
    final = record.model_copy(
        update={
            "record_code": code,
            "version": version,
            "status": status,
            "agency_code": agency_code,
        }
    )
    return Planned(
        record=final,
        artifacts=artifact_keys(code, version, record.sha256),
        rescan_of=same.id if same else None,
    )


def seal_planned(
    store: ObjectStore, planned: Planned, archive_pdf: bytes, keys: AgencyKeys
) -> None:
    rec = planned.record
    sealed = seal_record(
        record_code=rec.record_code,
        original_sha256=rec.sha256,
        record_json=_record_json(rec),
        text=rec.text.encode(),
        archive_pdf=archive_pdf,
        fields=rec.model_dump(mode="json")["fields"],
        keys=keys,
    )
    store_sealed(store, planned.artifacts, sealed)


def _apply_body(row: RecordRow, rec: Record, artifacts: dict[str, Any]) -> None:
    pid = rec.fields.get("personal_id")
    fields = {k: v.value for k, v in rec.fields.items()}
    row.record_code = rec.record_code
    row.doc_type = rec.doc_type
    row.personal_id = pid.value if pid else None
    row.status = rec.status.value
    row.body = rec.model_dump(mode="json")
    row.artifacts = artifacts
    row.version = rec.version
    row.validity = rec.validity.value
    row.valid_from = rec.valid_from
    row.valid_until = rec.valid_until
    row.agency_code = rec.agency_code
    row.identity_key = lifecycle.identity_key(rec.doc_type, fields)


def _snapshot(session: Session, row: RecordRow, reason: str, actor: str) -> None:
    session.add(
        RecordVersion(
            record_code=row.record_code,
            version=row.version,
            status=row.status,
            document_id=row.document_id,
            reason=reason,
            actor=actor,
            body=row.body,
            artifacts=row.artifacts,
        )
    )


def save_digitised(
    session: Session, planned: Planned, *, document_id: str, first_page: int, dossier: str | None
) -> RecordRow:
    """Add the record (or the re-scan's new version) and link it to the file's dossiers."""
    rec = planned.record
    row = session.get(RecordRow, planned.rescan_of) if planned.rescan_of else None
    if row is None:
        row = RecordRow(document_id=document_id, first_page=first_page)
        session.add(row)
    else:
        row.document_id, row.first_page = document_id, first_page
    _apply_body(row, rec, planned.artifacts)
    row.dossier_code = dossier or row.dossier_code
    _snapshot(session, row, "rescan" if planned.rescan_of else "digitised", SYSTEM_ACTOR)
    dossiers = {dossier} | set(
        session.scalars(
            select(Document.dossier_code).where(
                Document.duplicate_of == document_id, Document.dossier_code.is_not(None)
            )
        )
    )
    for code in sorted(d for d in dossiers if d):
        link_record(session, code, rec.record_code, "submitted", SYSTEM_ACTOR)
    return row


# --- dossiers ---------------------------------------------------------------------


def register_dossier(session: Session, code: str) -> Dossier:
    """Get or create the dossier row (idempotent, safe against a concurrent insert)."""
    parsed = lifecycle.parse_dossier_code(code)
    found = session.get(Dossier, code)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            row = Dossier(code=code, agency_code=parsed.agency_code, received_on=parsed.received_on)
            session.add(row)
        return row
    except IntegrityError:
        found = session.get(Dossier, code)
        assert found is not None
        return found


def link_record(
    session: Session,
    dossier_code: str,
    record_code: str,
    relation: str,
    actor: str,
    purpose: str | None = None,
) -> tuple[DossierRecord, bool]:
    """Link a record to a dossier once; returns the link and whether it is new."""
    register_dossier(session, dossier_code)
    q = select(DossierRecord).where(
        DossierRecord.dossier_code == dossier_code, DossierRecord.record_code == record_code
    )
    found = session.scalar(q)
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            link = DossierRecord(
                dossier_code=dossier_code,
                record_code=record_code,
                relation=relation,
                actor=actor,
                purpose=purpose,
            )
            session.add(link)
        return link, True
    except IntegrityError:
        again = session.scalar(q)
        assert again is not None
        return again, False


def link_duplicate(session: Session, original: Document, dossier: str | None) -> None:
    """A byte-identical file handed in for another dossier: link the records already made."""
    if not dossier:
        return
    register_dossier(session, dossier)
    codes = session.scalars(
        select(RecordRow.record_code).where(RecordRow.document_id == original.id)
    )
    for code in codes:
        link_record(session, dossier, code, "submitted", SYSTEM_ACTOR)


def find_duplicate(session: Session, sha256: str) -> Document | None:
    """The earlier ingest of the same bytes, if it was (or is being) digitised."""
    return session.scalar(
        select(Document)
        .where(
            Document.sha256 == sha256,
            Document.duplicate_of.is_(None),
            Document.status.not_in([DocumentStatus.rejected, DocumentStatus.failed]),
        )
        .order_by(Document.created_at)
        .limit(1)
    )


# --- review and reuse -------------------------------------------------------------


def reusable_on(row: RecordRow, day: dt.date) -> bool:
    period = lifecycle.ValidityPeriod(
        lifecycle.Validity(row.validity), row.valid_from, row.valid_until
    )
    return row.status == RecordStatus.published.value and period.holds_on(day)


def normalise_corrections(doc_type: str, corrections: Mapping[str, str]) -> dict[str, str]:
    """Corrected values in the stored form (ISO dates, NFC capitals); ValueError names the field."""
    spec = DOC_TYPES.get(doc_type)
    validators = spec.validators if spec else {}
    out = {}
    for name, raw in corrections.items():
        if name not in validators:
            raise ValueError(f"{doc_type} has no field {name!r}")
        value = raw.strip()
        if validators[name] == "date":
            with contextlib.suppress(ValueError):
                value = dt.date.fromisoformat(value).strftime("%d/%m/%Y")
        normalised = field_rules.normalise(validators[name], value)
        if not normalised or not field_rules.valid(validators[name], normalised):
            raise ValueError(f"{name}: not a valid {validators[name]}")
        out[name] = normalised
    return out


def new_version(
    session: Session,
    store: ObjectStore,
    keys: AgencyKeys,
    row: RecordRow,
    *,
    action: lifecycle.Action,
    actor: str,
    corrections: Mapping[str, str] | None = None,
) -> RecordRow:
    """Approve or correct: a new version, sealed with a new manifest; the scan's PDF is kept.

    Approval publishes at once (approved, then published) so that other systems can reuse it.
    Corrections must already be normalised (normalise_corrections).
    """
    status = lifecycle.next_status(row.status, action)
    if status is RecordStatus.approved:
        status = lifecycle.next_status(status, "publish")
    current = Record.model_validate(row.body)
    fields = dict(current.fields)
    for name, value in (corrections or {}).items():
        # Where it is printed does not change with a correction: keep the location.
        printed = fields.get(name)
        fields[name] = FieldValue(
            value=value,
            confidence=1.0,
            page=printed.page if printed else None,
            box=printed.box if printed else None,
        )
    changed = set(corrections or {})
    rec = _with_validity(
        current.model_copy(
            update={
                "fields": fields,
                "status": status,
                "version": row.version + 1,
                "disagreements": [d for d in current.disagreements if d.field not in changed],
            }
        )
    )
    artifacts = {
        **artifact_keys(rec.record_code, rec.version, rec.sha256),
        "hocr": row.artifacts.get("hocr", []),
    }
    sealed = seal_version(
        record_code=rec.record_code,
        original_sha256=rec.sha256,
        record_json=_record_json(rec),
        text=store.get(row.artifacts["text"]),
        signed_pdf=store.get(row.artifacts["pdf"]),
        fields=rec.model_dump(mode="json")["fields"],
        keys=keys,
    )
    store_sealed(store, artifacts, sealed)
    _apply_body(row, rec, artifacts)
    _snapshot(session, row, "approval" if action == "approve" else "correction", actor)
    return row


def reject(session: Session, row: RecordRow) -> RecordRow:
    """A state change only: a rejected record is never published, so nothing is re-sealed."""
    row.status = lifecycle.next_status(row.status, "reject").value
    row.body = {**row.body, "status": row.status}
    return row


def reuse(
    session: Session,
    row: RecordRow,
    dossier_code: str,
    *,
    actor: str,
    purpose: str | None,
    today: dt.date,
) -> tuple[DossierRecord, bool]:
    """Link a reusable record to a new dossier; NotReusable when it may not be offered."""
    if not reusable_on(row, today):
        raise errors.NotReusable(
            f"The record is {row.status}"
            + ("" if row.status != "published" else f", validity {row.validity}")
            + "."
        )
    return link_record(session, dossier_code, row.record_code, "reused", actor, purpose)


# --- events -----------------------------------------------------------------------

EVENTS: dict[RecordStatus, str] = {
    RecordStatus.published: "record.published",
    RecordStatus.needs_review: "record.needs_review",
}


def emit(session: Session, events: list[tuple[str, RecordRow]]) -> list[int]:
    """Queue webhook deliveries in the caller's transaction (outbox): committed with the change."""
    from workers import webhooks

    ids: list[int] = []
    for event, row in events:
        ids += webhooks.emit_event(
            session,
            event,
            record_code=row.record_code,
            doc_type=row.doc_type,
            status=row.status,
            version=row.version,
            dossier_code=row.dossier_code,
            document_id=row.document_id,
            agency_code=row.agency_code,
        )
    return ids


def dispatch(delivery_ids: list[int]) -> None:
    """After the commit: hand the deliveries to the workers."""
    if delivery_ids:
        from workers import webhooks

        webhooks.dispatch(delivery_ids)
