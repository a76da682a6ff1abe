"""The HTTP API: upload scans, follow their progress, fetch and download records.

Every call is authenticated with an `X-API-Key`; every read of a record is
written to the audit log before the data leaves.
"""

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.keys import Client, authenticate
from pipeline import errors
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

    def need(scope: str) -> Callable[..., Client]:
        def check(c: Annotated[Client, Depends(client)]) -> Client:
            if not c.allows(scope):
                raise _error(403, "forbidden", f"This key lacks the scope {scope}.")
            return c

        return check

    def audit(
        s: Session, c: Client, action: str, row: RecordRow | None = None, **extra: Any
    ) -> None:
        s.add(
            AuditEntry(
                actor=c.name,
                action=action,
                record_code=row.record_code if row else extra.get("record_code"),
                personal_id=row.personal_id if row else extra.get("personal_id"),
                detail=extra.get("detail"),
            )
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
        c: Annotated[Client, Depends(need("scans:write"))],
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
        c: Annotated[Client, Depends(need("records:read"))],
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
        c: Annotated[Client, Depends(need("records:read_personal"))],
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
        c: Annotated[Client, Depends(need("records:read_personal"))],
        s: Annotated[Session, Depends(session)],
    ) -> Record:
        row = _record(s, record_code)
        audit(s, c, "record.read", row)
        return Record.model_validate(row.body)

    @app.get("/api/v1/records/{record_code}/files/{kind}")
    def get_record_file(
        record_code: str,
        kind: str,
        c: Annotated[Client, Depends(need("records:read_personal"))],
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

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
