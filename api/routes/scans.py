"""Uploading scans and following one ingested file's progress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from api.deps import Caller, ErrorBody, ServicesDep, SessionDep, clean_text, error, need
from api.routes.records import PLAIN
from pipeline import errors
from schemas.db import Document, RecordVersion
from workers.ingest import ingest_bytes

router = APIRouter(tags=["scans"])


class IngestedDocument(BaseModel):
    id: str
    source: str
    sha256: str
    status: str
    error: ErrorBody | None = None
    duplicate_of: str | None = None


class ScanAccepted(BaseModel):
    documents: list[IngestedDocument]


class DocumentStatusOut(BaseModel):
    id: str
    source: str
    sha256: str
    dossier_code: str | None
    status: str
    page_count: int
    pages_done: int
    records: list[str]
    error: ErrorBody | None = None
    duplicate_of: str | None = Field(
        default=None, description="The earlier ingest of the same bytes; records are its records."
    )


@router.post("/api/v1/scans", status_code=202, response_model=ScanAccepted)
async def upload_scans(
    c: Annotated[Caller, Depends(need("scans:write"))],
    svc: ServicesDep,
    files: Annotated[list[UploadFile], File(description="Scans: PDF, PNG, JPEG or TIFF")],
    dossier_code: Annotated[str | None, Form()] = None,
) -> ScanAccepted:
    """Upload scans (optionally for a dossier); each file is stored and queued for reading."""
    out = []
    for upload in files:
        data = await upload.read()
        try:
            # The name is stored and shown: no control characters (PostgreSQL refuses NUL).
            name = clean_text(upload.filename, 255) or "upload"
            ing = ingest_bytes(svc, name, data, dossier_code)
        except errors.InvalidDossierCode as exc:
            raise error(422, exc.code, exc.detail) from exc
        except errors.SohoaError as exc:
            raise error(503, exc.code, exc.detail) from exc
        out.append(
            IngestedDocument(
                id=ing.document_id,
                source=ing.source,
                sha256=ing.sha256,
                status=ing.status,
                error=ErrorBody(**ing.error.as_dict()) if ing.error else None,
                duplicate_of=ing.duplicate_of,
            )
        )
    return ScanAccepted(documents=out)


@router.get("/api/v1/documents/{document_id}", response_model=DocumentStatusOut)
def get_document(
    document_id: Annotated[str, Path(max_length=32, pattern=PLAIN)],
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
) -> DocumentStatusOut:
    """One uploaded file's progress, and the records made from it."""
    doc = s.get(Document, document_id)
    if doc is None:
        raise error(404, "not_found", "No such document.")
    made_by = doc.duplicate_of or doc.id
    # Through the versions: a later re-scan of the same paper moves the current row on.
    made = s.execute(
        select(RecordVersion.record_code, func.min(RecordVersion.id))
        .where(RecordVersion.document_id == made_by)
        .group_by(RecordVersion.record_code)
        .order_by(func.min(RecordVersion.id))
    )
    codes = [code for code, _ in made]
    return DocumentStatusOut(
        id=doc.id,
        source=doc.source,
        sha256=doc.sha256,
        dossier_code=doc.dossier_code,
        status=doc.status,
        page_count=doc.page_count,
        pages_done=doc.pages_done,
        records=codes,
        error=ErrorBody(code=doc.error_code, message=doc.error_message or "")
        if doc.error_code
        else None,
        duplicate_of=doc.duplicate_of,
    )
