"""Finding, reading, downloading and verifying records."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import (
    Caller,
    ServicesDep,
    SessionDep,
    audit,
    clean_text,
    error,
    need,
    pg_reads,
    unavailable,
    who,
)
from api.reads import Unavailable
from api.routes.webhooks import UtcDatetime
from pipeline import errors, signing, verify
from schemas.db import RecordRow, RecordVersion
from schemas.record import Record, RecordStatus
from workers import lifecycle
from workers.services import Services

router = APIRouter(tags=["records"])

FILE_KINDS = {
    "original": "application/octet-stream",
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
}


#: No control characters: none belongs in a code, and PostgreSQL refuses NUL in text.
PLAIN = r"^[^\x00-\x1f\x7f]*$"
RecordCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=PLAIN,
        description="The record's code, e.g. 019099012345.citizen_id_card.p1.01.",
    ),
]
PersonalIdQuery = Annotated[
    str | None, Query(pattern=r"^(\d{9}|\d{12})$", description="12-digit (or 9-digit) ID.")
]
DocTypeQuery = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^[A-Za-z0-9_]+$", description="e.g. birth_certificate."),
]
TextQuery = Annotated[str | None, Query(max_length=200, pattern=PLAIN)]


class RecordList(BaseModel):
    records: list[Record]


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class Verification(BaseModel):
    ok: bool
    checks: list[CheckOut]


def find_record(s: Session, code: str) -> RecordRow:
    """The record, or 404; a code no record can have (NUL, too long) is not looked up."""
    if len(code) > 200 or not re.fullmatch(PLAIN, code):
        raise error(404, "not_found", "No such record.")
    row = s.scalar(select(RecordRow).where(RecordRow.record_code == code))
    if row is None:
        raise error(404, "not_found", "No such record.")
    return row


@router.get("/api/v1/records", response_model=RecordList)
def list_records(
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
    personal_id: PersonalIdQuery = None,
    doc_type: DocTypeQuery = None,
    dossier_code: Annotated[str | None, Query(max_length=64, pattern=PLAIN)] = None,
    limit: int = 100,
) -> RecordList:
    """Search records (any status) by personal ID, document type or dossier; newest first."""
    if not (personal_id or doc_type or dossier_code):
        raise error(422, "filter_required", "Give personal_id, doc_type or dossier_code.")
    q = select(RecordRow).order_by(RecordRow.created_at.desc()).limit(max(1, min(limit, 500)))
    if personal_id:
        q = q.where(RecordRow.personal_id == personal_id)
    if doc_type:
        q = q.where(RecordRow.doc_type == doc_type)
    if dossier_code:
        q = q.where(RecordRow.dossier_code == dossier_code)
    rows = list(s.scalars(q))
    audit(
        s,
        c,
        "records.search",
        personal_id=personal_id,
        detail=f"doc_type={doc_type} dossier={dossier_code} hits={len(rows)}",
    )
    return RecordList(records=[Record.model_validate(r.body) for r in rows])


@router.get("/api/v1/records/{record_code}", response_model=Record)
async def get_record(
    request: Request,
    record_code: RecordCode,
    c: Annotated[Caller, Depends(need("records:read_personal"))],
) -> Response:
    """The current version of a record, with its fields (audited)."""
    # The stored body was validated when it was saved: it is served as it is.
    reads = pg_reads(request)
    if reads is None:
        svc = request.app.state.services
        return JSONResponse(await run_in_threadpool(_read_record, svc, record_code, c))
    try:
        body = await reads.record(record_code, who(c))
    except Unavailable as exc:
        raise unavailable() from exc
    if body is None:
        raise error(404, "not_found", "No such record.")
    return Response(body, media_type="application/json")


def _read_record(svc: Services, code: str, c: Caller) -> dict[str, Any]:
    with svc.sessions() as s:
        row = find_record(s, code)
        audit(s, c, "record.read", row)
        return row.body


@router.get(
    "/api/v1/records/{record_code}/files/{kind}",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes.",
            "content": {media: {} for media in dict.fromkeys(FILE_KINDS.values())},
        },
        410: {"description": "The stored file is gone."},
    },
)
def get_record_file(
    record_code: RecordCode,
    kind: str,
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
    svc: ServicesDep,
) -> Response:
    """Download one of the record's files: original, pdf (signed), text or json (audited)."""
    if kind not in FILE_KINDS:
        raise error(404, "not_found", f"File kinds: {', '.join(FILE_KINDS)}.")
    row = find_record(s, record_code)
    key = row.artifacts.get(kind)
    if not key:
        raise error(404, "not_found", "This record has no such file.")
    audit(s, c, f"record.download.{kind}", row)
    try:
        data = svc.store.get(key)
    except errors.ObjectMissing as exc:
        raise error(410, exc.code, "The stored file is missing.") from exc
    except errors.SohoaError as exc:
        raise error(503, exc.code, exc.detail) from exc
    return Response(content=data, media_type=FILE_KINDS[kind])


@router.get("/api/v1/records/{record_code}/verify", response_model=Verification)
def verify_record(
    record_code: RecordCode,
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
    svc: ServicesDep,
) -> Verification:
    """Re-read every artifact from storage; check its hash, the manifest and PDF signatures."""
    row = find_record(s, record_code)
    audit(s, c, "record.verify", row)
    blobs: dict[str, bytes | None] = {}
    for kind in (*signing.HASHED_ARTIFACTS, "manifest"):
        key = row.artifacts.get(kind)
        try:
            blobs[kind] = svc.store.get(key) if isinstance(key, str) else None
        except errors.ObjectMissing:
            blobs[kind] = None
        except errors.SohoaError as exc:
            raise error(503, exc.code, exc.detail) from exc
    checks = verify.check_record(
        record_code=row.record_code,
        manifest_raw=blobs.pop("manifest"),
        blobs=blobs,
        row_fields=row.body.get("fields", {}),
        keys=signing.AgencyKeys.from_settings(svc.settings),
    )
    return Verification(
        ok=all(ch.ok for ch in checks),
        checks=[CheckOut(name=ch.name, ok=ch.ok, detail=ch.detail) for ch in checks],
    )


class VersionOut(BaseModel):
    version: int
    status: str
    reason: str = Field(description="digitised, rescan, correction or approval.")
    actor: str
    document_id: str
    created_at: UtcDatetime


class VersionList(BaseModel):
    record_code: str
    current: int
    versions: list[VersionOut]


class Review(BaseModel):
    """An operator's decision. Corrections are field values as printed (dates dd/mm/yyyy or ISO)."""

    model_config = ConfigDict(extra="forbid")

    corrections: dict[
        str, Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=PLAIN)]
    ] = Field(default_factory=dict, max_length=50)
    note: str | None = Field(default=None, max_length=500)


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


@router.get("/api/v1/records/{record_code}/versions", response_model=VersionList)
def list_versions(
    record_code: RecordCode,
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
) -> VersionList:
    """Every version of the record, oldest first: corrections and re-scans never overwrite."""
    row = find_record(s, record_code)
    versions = s.scalars(
        select(RecordVersion)
        .where(RecordVersion.record_code == record_code)
        .order_by(RecordVersion.version)
    )
    return VersionList(
        record_code=record_code,
        current=row.version,
        versions=[VersionOut.model_validate(v, from_attributes=True) for v in versions],
    )


@router.get("/api/v1/records/{record_code}/versions/{version}", response_model=Record)
def get_version(
    record_code: RecordCode,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
) -> Record:
    """One earlier (or the current) version of a record (audited)."""
    old = s.scalar(
        select(RecordVersion).where(
            RecordVersion.record_code == record_code, RecordVersion.version == version
        )
    )
    if old is None:
        raise error(404, "not_found", "No such record version.")
    audit(
        s,
        c,
        "record.read",
        record_code=record_code,
        personal_id=_pid(old.body),
        detail=f"version={version}",
    )
    return Record.model_validate(old.body)


def _pid(body: dict[str, Any]) -> str | None:
    value = body.get("fields", {}).get("personal_id", {}).get("value")
    return value if isinstance(value, str) else None


def _change(
    s: Session,
    svc: Services,
    c: Caller,
    row: RecordRow,
    action: Literal["approve", "correct"],
    review: Review,
) -> Record:
    try:
        corrections = lifecycle.normalise_corrections(row.doc_type, review.corrections)
    except ValueError as exc:
        raise error(422, "invalid_field", str(exc)) from exc
    try:
        lifecycle.new_version(
            s,
            svc.store,
            signing.AgencyKeys.from_settings(svc.settings),
            row,
            action=action,
            actor=c.client.name,
            corrections=corrections,
        )
    except errors.InvalidTransition as exc:
        s.rollback()
        raise error(409, exc.code, exc.detail) from exc
    except errors.SohoaError as exc:
        s.rollback()
        raise error(503, exc.code, exc.detail) from exc
    names = ",".join(sorted(corrections)) or "-"
    detail = f"version={row.version} corrected={names}"
    if review.note:
        detail += f" note={clean_text(review.note, 300)}"
    events = [(lifecycle.EVENTS[RecordStatus.published], row)] if row.status == "published" else []
    ids = lifecycle.emit(s, events)
    audit(s, c, f"record.{action}", row, detail=detail)  # commits the version with its entry
    lifecycle.dispatch(ids)
    return Record.model_validate(row.body)


@router.post("/api/v1/records/{record_code}/approve", response_model=Record)
def approve_record(
    record_code: RecordCode,
    review: Review,
    c: Annotated[Caller, Depends(need("scans:write"))],
    s: SessionDep,
    svc: ServicesDep,
) -> Record:
    """Approve (with optional corrections): a new version, approved and then published."""
    return _change(s, svc, c, find_record(s, record_code), "approve", review)


@router.post("/api/v1/records/{record_code}/corrections", response_model=Record)
def correct_record(
    record_code: RecordCode,
    review: Review,
    c: Annotated[Caller, Depends(need("scans:write"))],
    s: SessionDep,
    svc: ServicesDep,
) -> Record:
    """Correct fields: a new version in the same state (a published record is republished)."""
    if not review.corrections:
        raise error(422, "invalid_field", "Give at least one corrected field.")
    return _change(s, svc, c, find_record(s, record_code), "correct", review)


@router.post("/api/v1/records/{record_code}/reject", response_model=Record)
def reject_record(
    record_code: RecordCode,
    rejection: Rejection,
    c: Annotated[Caller, Depends(need("scans:write"))],
    s: SessionDep,
) -> Record:
    """Reject a record awaiting review; it is kept, never published, never offered for reuse."""
    row = find_record(s, record_code)
    try:
        lifecycle.reject(s, row)
    except errors.InvalidTransition as exc:
        raise error(409, exc.code, exc.detail) from exc
    audit(s, c, "record.reject", row, detail=f"reason={clean_text(rejection.reason, 300)}")
    return Record.model_validate(row.body)
