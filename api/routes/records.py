"""Finding, reading, downloading and verifying records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Caller, ServicesDep, SessionDep, audit, error, need
from pipeline import errors, signing, verify
from schemas.db import RecordRow
from schemas.record import Record

router = APIRouter(tags=["records"])

FILE_KINDS = {
    "original": "application/octet-stream",
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
}


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
    row = s.scalar(select(RecordRow).where(RecordRow.record_code == code))
    if row is None:
        raise error(404, "not_found", "No such record.")
    return row


@router.get("/api/v1/records", response_model=RecordList)
def list_records(
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
    personal_id: str | None = None,
    doc_type: str | None = None,
    dossier_code: str | None = None,
    limit: int = 100,
) -> RecordList:
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
def get_record(
    record_code: str,
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
) -> Record:
    row = find_record(s, record_code)
    audit(s, c, "record.read", row)
    return Record.model_validate(row.body)


@router.get("/api/v1/records/{record_code}/files/{kind}")
def get_record_file(
    record_code: str,
    kind: str,
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
    svc: ServicesDep,
) -> Response:
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
    record_code: str,
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
