"""The HTTP API: upload scans, follow their progress, fetch, download and verify records.

Every call is authenticated with an `X-API-Key`; every read of a record is
written to the (hash-chained) audit log before the data leaves, with the purpose
and dossier code the caller gives in the `X-Purpose` and `X-Dossier-Code` headers.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.keys import Client, authenticate
from pipeline import errors, signing, verify
from pipeline.intake import check_dossier_code
from schemas import audit as audit_log
from schemas.db import AuditEntry, Document, RecordRow
from schemas.record import Record
from workers.ingest import ingest_bytes
from workers.services import Services

FILE_KINDS = {
    "original": "application/octet-stream",
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
    "json": "application/json",
}


class ErrorBody(BaseModel):
    code: str
    message: str


class IngestedDocument(BaseModel):
    id: str
    source: str
    sha256: str
    status: str
    error: ErrorBody | None = None


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


class RecordList(BaseModel):
    records: list[Record]


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class Verification(BaseModel):
    ok: bool
    checks: list[CheckOut]


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    agency_code: str | None
    action: str
    record_code: str | None
    personal_id: str | None
    dossier_code: str | None
    purpose: str | None
    detail: str | None


class AuditList(BaseModel):
    entries: list[AuditEntryOut]


@dataclass(frozen=True)
class Caller:
    """An authenticated client and why it is asking (`X-Purpose`, `X-Dossier-Code`)."""

    client: Client
    purpose: str | None = None
    dossier_code: str | None = None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="sohoa",
        version="0.1.0",
        description="Digitised, reusable records of citizens' papers.",
    )
    app.state.services = services

    def session() -> Iterator[Session]:
        with services.sessions() as s:
            yield s

    def client(request: Request, s: Annotated[Session, Depends(session)]) -> Client:
        found = authenticate(s, request.headers.get("x-api-key"))
        if found is None:
            raise _error(401, "unauthenticated", "A valid X-API-Key header is required.")
        return found

    def need(scope: str) -> Callable[..., Caller]:
        def check(request: Request, c: Annotated[Client, Depends(client)]) -> Caller:
            if not c.allows(scope):
                raise _error(403, "forbidden", f"This key lacks the scope {scope}.")
            purpose = _CONTROL.sub(" ", request.headers.get("x-purpose", "")).strip()[:200]
            try:
                dossier = check_dossier_code(request.headers.get("x-dossier-code"))
            except errors.InvalidDossierCode as exc:
                raise _error(422, exc.code, "X-Dossier-Code is not a dossier code.") from exc
            return Caller(c, purpose or None, dossier)

        return check

    def audit(
        s: Session, c: Caller, action: str, row: RecordRow | None = None, **extra: Any
    ) -> None:
        """Append to the hash-chained audit log and commit, before any data leaves."""
        audit_log.append(
            s,
            actor=c.client.name,
            agency_code=c.client.agency_code,
            action=action,
            record_code=row.record_code if row else extra.get("record_code"),
            personal_id=row.personal_id if row else extra.get("personal_id"),
            dossier_code=c.dossier_code,
            purpose=c.purpose,
            detail=extra.get("detail"),
        )
        s.commit()

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        detail = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"code": "http_error", "message": str(exc.detail)}
        )
        return JSONResponse(
            status_code=exc.status_code, content={"error": detail}, headers=exc.headers
        )

    @app.post("/api/v1/scans", status_code=202, response_model=ScanAccepted)
    async def upload_scans(
        c: Annotated[Caller, Depends(need("scans:write"))],
        files: Annotated[list[UploadFile], File(description="Scans: PDF, PNG, JPEG or TIFF")],
        dossier_code: Annotated[str | None, Form()] = None,
    ) -> ScanAccepted:
        out = []
        for upload in files:
            data = await upload.read()
            try:
                ing = ingest_bytes(services, upload.filename or "upload", data, dossier_code)
            except errors.InvalidDossierCode as exc:
                raise _error(422, exc.code, exc.detail) from exc
            except errors.SohoaError as exc:
                raise _error(503, exc.code, exc.detail) from exc
            out.append(
                IngestedDocument(
                    id=ing.document_id,
                    source=ing.source,
                    sha256=ing.sha256,
                    status=ing.status,
                    error=ErrorBody(**ing.error.as_dict()) if ing.error else None,
                )
            )
        return ScanAccepted(documents=out)

    @app.get("/api/v1/documents/{document_id}", response_model=DocumentStatusOut)
    def get_document(
        document_id: str,
        c: Annotated[Caller, Depends(need("records:read"))],
        s: Annotated[Session, Depends(session)],
    ) -> DocumentStatusOut:
        doc = s.get(Document, document_id)
        if doc is None:
            raise _error(404, "not_found", "No such document.")
        codes = list(
            s.scalars(
                select(RecordRow.record_code)
                .where(RecordRow.document_id == document_id)
                .order_by(RecordRow.first_page)
            )
        )
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
        )

    @app.get("/api/v1/records", response_model=RecordList)
    def list_records(
        c: Annotated[Caller, Depends(need("records:read_personal"))],
        s: Annotated[Session, Depends(session)],
        personal_id: str | None = None,
        doc_type: str | None = None,
        dossier_code: str | None = None,
        limit: int = 100,
    ) -> RecordList:
        if not (personal_id or doc_type or dossier_code):
            raise _error(422, "filter_required", "Give personal_id, doc_type or dossier_code.")
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

    def _record(s: Session, code: str) -> RecordRow:
        row = s.scalar(select(RecordRow).where(RecordRow.record_code == code))
        if row is None:
            raise _error(404, "not_found", "No such record.")
        return row

    @app.get("/api/v1/records/{record_code}", response_model=Record)
    def get_record(
        record_code: str,
        c: Annotated[Caller, Depends(need("records:read_personal"))],
        s: Annotated[Session, Depends(session)],
    ) -> Record:
        row = _record(s, record_code)
        audit(s, c, "record.read", row)
        return Record.model_validate(row.body)

    @app.get("/api/v1/records/{record_code}/files/{kind}")
    def get_record_file(
        record_code: str,
        kind: str,
        c: Annotated[Caller, Depends(need("records:read_personal"))],
        s: Annotated[Session, Depends(session)],
    ) -> Response:
        if kind not in FILE_KINDS:
            raise _error(404, "not_found", f"File kinds: {', '.join(FILE_KINDS)}.")
        row = _record(s, record_code)
        key = row.artifacts.get(kind)
        if not key:
            raise _error(404, "not_found", "This record has no such file.")
        audit(s, c, f"record.download.{kind}", row)
        try:
            data = services.store.get(key)
        except errors.ObjectMissing as exc:
            raise _error(410, exc.code, "The stored file is missing.") from exc
        except errors.SohoaError as exc:
            raise _error(503, exc.code, exc.detail) from exc
        return Response(content=data, media_type=FILE_KINDS[kind])

    @app.get("/api/v1/records/{record_code}/verify", response_model=Verification)
    def verify_record(
        record_code: str,
        c: Annotated[Caller, Depends(need("records:read"))],
        s: Annotated[Session, Depends(session)],
    ) -> Verification:
        """Re-read every artifact from storage; check its hash, the manifest and PDF signatures."""
        row = _record(s, record_code)
        audit(s, c, "record.verify", row)
        blobs: dict[str, bytes | None] = {}
        for kind in (*signing.HASHED_ARTIFACTS, "manifest"):
            key = row.artifacts.get(kind)
            try:
                blobs[kind] = services.store.get(key) if isinstance(key, str) else None
            except errors.ObjectMissing:
                blobs[kind] = None
            except errors.SohoaError as exc:
                raise _error(503, exc.code, exc.detail) from exc
        checks = verify.check_record(
            record_code=row.record_code,
            manifest_raw=blobs.pop("manifest"),
            blobs=blobs,
            row_fields=row.body.get("fields", {}),
            keys=signing.AgencyKeys.from_settings(services.settings),
        )
        return Verification(
            ok=all(ch.ok for ch in checks),
            checks=[CheckOut(name=ch.name, ok=ch.ok, detail=ch.detail) for ch in checks],
        )

    @app.get("/api/v1/audit", response_model=AuditList)
    def list_audit(
        c: Annotated[Caller, Depends(need("audit:read"))],
        s: Annotated[Session, Depends(session)],
        personal_id: str | None = None,
        record_code: str | None = None,
        limit: int = 100,
    ) -> AuditList:
        """Who read what: entries about a citizen or a record, newest first."""
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
        if personal_id:
            q = q.where(AuditEntry.personal_id == personal_id)
        if record_code:
            q = q.where(AuditEntry.record_code == record_code)
        rows = list(s.scalars(q))
        audit(
            s,
            c,
            "audit.read",
            personal_id=personal_id,
            record_code=record_code,
            detail=f"hits={len(rows)}",
        )
        return AuditList(
            entries=[
                AuditEntryOut(
                    id=e.id,
                    at=e.at,
                    actor=e.actor,
                    agency_code=e.agency_code,
                    action=e.action,
                    record_code=e.record_code,
                    personal_id=e.personal_id,
                    dossier_code=e.dossier_code,
                    purpose=e.purpose,
                    detail=e.detail,
                )
                for e in rows
            ]
        )

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
