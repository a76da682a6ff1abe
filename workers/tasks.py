"""Thin Celery tasks: load inputs, call pipeline stages, store outputs, record progress.

sohoa.rasterise (triage, fan out) -> chord(sohoa.ocr_page x N) -> sohoa.finish.
Each page task rasterises, preprocesses and OCRs its own page, so pages of one
scan spread over every worker. Its outputs are stored under keys made of the
document and page, the JSON last: a redelivered task finds the JSON and returns.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from celery import chord
from sqlalchemy import func, select, update

from pipeline import errors
from pipeline.intake import triage
from pipeline.process import (
    PageResult,
    digitise_page,
    finish_document,
    record_archive_pdf,
    reread_from,
)
from pipeline.signing import AgencyKeys, seal_record
from pipeline.types import FileKind, PageText, Triage
from schemas.db import Document, DocumentStatus, Page, RecordRow, utcnow
from schemas.record import RecordStatus
from workers.app import celery_app, services
from workers.services import original_key, page_key, record_key

log = logging.getLogger(__name__)

TRANSIENT = (errors.StorageUnavailable, errors.DatabaseUnavailable, errors.OcrFailed)

_original_cache: dict[str, bytes] = {}


def _original(sha: str) -> bytes:
    """The original, kept for the next page task of the same file in this process."""
    if sha not in _original_cache:
        _original_cache.clear()
        _original_cache[sha] = services().store.get(original_key(sha))
    return _original_cache[sha]


def _set_status(document_id: str, status: str, **values: Any) -> None:
    with services().sessions() as session:
        session.execute(
            update(Document).where(Document.id == document_id).values(status=status, **values)
        )
        session.commit()


def _fail(document_id: str, exc: errors.SohoaError) -> None:
    status = DocumentStatus.rejected if exc.permanent else DocumentStatus.failed
    log.warning("document=%s %s: %s", document_id, status, exc.code)
    _set_status(
        document_id, status, error_code=exc.code, error_message=exc.detail, finished_at=utcnow()
    )


def _backoff(retries: int) -> int:
    return int(min(60, 2 ** (retries + 1)))


@celery_app.task(name="sohoa.rasterise", bind=True, max_retries=5)
def rasterise_document(self: Any, document_id: str) -> int:
    """Triage the stored original and fan out one task per page."""
    svc = services()
    with svc.sessions() as session:
        doc = session.get(Document, document_id)
        if doc is None or doc.status in DocumentStatus.FINAL:
            return 0
        sha = doc.sha256
    try:
        tri = triage(_original(sha), svc.limits)
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except errors.SohoaError as exc:
        _fail(document_id, exc)
        return 0
    numbers = list(range(1, tri.page_count + 1))
    with svc.sessions() as session:
        existing = set(session.scalars(select(Page.number).where(Page.document_id == document_id)))
        for n in numbers:
            if n not in existing:
                session.add(Page(document_id=document_id, number=n))
        session.commit()
    _set_status(document_id, DocumentStatus.ocr, page_count=tri.page_count)
    triage_dict = {"kind": tri.kind.value, "page_count": tri.page_count, "mime": tri.mime}
    chord(ocr_page.si(document_id, n, triage_dict) for n in numbers)(finish.si(document_id))
    return len(numbers)


def _store_page(document_id: str, result: PageResult) -> None:
    store = services().store
    n = result.page.number
    store.put(page_key(document_id, n, "archive.jpg"), result.archive_jpeg, "image/jpeg")
    store.put(page_key(document_id, n, "hocr"), result.page.hocr.encode(), "text/html")
    if result.page.text_layer_pdf:
        store.put(
            page_key(document_id, n, "textlayer.pdf"), result.page.text_layer_pdf, "application/pdf"
        )
    body = {**result.page.to_dict(), "archive_dpi": result.archive_dpi}
    store.put(page_key(document_id, n, "json"), json.dumps(body).encode(), "application/json")


def _load_page(document_id: str, number: int) -> PageResult:
    store = services().store
    body = json.loads(store.get(page_key(document_id, number, "json")))
    page = PageText.from_dict(body)
    layer_key = page_key(document_id, number, "textlayer.pdf")
    page.text_layer_pdf = store.get(layer_key) if store.exists(layer_key) else b""
    return PageResult(
        page=page,
        archive_jpeg=store.get(page_key(document_id, number, "archive.jpg")),
        archive_dpi=int(body["archive_dpi"]),
    )


@celery_app.task(name="sohoa.ocr_page", bind=True, max_retries=5)
def ocr_page(self: Any, document_id: str, number: int, triage_dict: dict[str, Any]) -> int:
    """Rasterise, preprocess and OCR one page; skip if its result is already stored."""
    svc = services()
    settings = svc.settings
    try:
        if not svc.store.exists(page_key(document_id, number, "json")):
            with svc.sessions() as session:
                sha = session.scalar(select(Document.sha256).where(Document.id == document_id))
            if sha is None:
                return 0
            tri = Triage(
                kind=FileKind(triage_dict["kind"]),
                page_count=int(triage_dict["page_count"]),
                mime=str(triage_dict["mime"]),
            )
            result = digitise_page(
                _original(sha),
                tri,
                number,
                settings.raster_dpi,
                settings.ocr_lang,
                settings.page_timeout_s,
            )
            _store_page(document_id, result)
            page = result.page
        else:
            page = _load_page(document_id, number).page
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except errors.SohoaError as exc:
        _fail(document_id, exc)
        raise
    with svc.sessions() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == number)
            .values(status="done", rotation=page.rotation, mean_confidence=page.mean_confidence)
        )
        done = session.scalar(
            select(func.count()).where(Page.document_id == document_id, Page.status == "done")
        )
        session.execute(update(Document).where(Document.id == document_id).values(pages_done=done))
        session.commit()
    return number


@celery_app.task(name="sohoa.finish", bind=True, max_retries=5)
def finish(self: Any, document_id: str) -> int:
    """Classify, extract, store each record's artifacts and publish the records."""
    svc = services()
    with svc.sessions() as session:
        doc = session.get(Document, document_id)
        if doc is None or doc.status in DocumentStatus.FINAL:
            return 0
        numbers = list(
            session.scalars(
                select(Page.number).where(Page.document_id == document_id).order_by(Page.number)
            )
        )
        source, sha, dossier = doc.source, doc.sha256, doc.dossier_code
        taken = set(
            session.scalars(
                select(RecordRow.record_code).where(RecordRow.document_id != document_id)
            )
        )
    _set_status(document_id, DocumentStatus.classifying)
    try:
        results = {n: _load_page(document_id, n) for n in numbers}
        records = finish_document(
            document_id=document_id,
            source=source,
            sha256=sha,
            dossier_code=dossier,
            pages=[r.page for r in results.values()],
            code_taken=taken.__contains__,
            reread=reread_from(results, svc.settings.ocr_lang, svc.settings.page_timeout_s),
        )
        rows = []
        keys = AgencyKeys.from_settings(svc.settings)
        for rec in records:
            body = rec.model_dump(mode="json")
            artifacts = {
                "original": original_key(sha),
                "json": record_key(rec.record_code, "record.json"),
                "text": record_key(rec.record_code, "text.txt"),
                "pdf": record_key(rec.record_code, "archive.pdf"),
                "manifest": record_key(rec.record_code, "manifest.json"),
                "hocr": [page_key(document_id, n, "hocr") for n in rec.pages],
            }
            sealed = seal_record(
                record_code=rec.record_code,
                original_sha256=sha,
                record_json=json.dumps(body, ensure_ascii=False, indent=2).encode(),
                text=rec.text.encode(),
                archive_pdf=record_archive_pdf(rec, results),
                fields=body["fields"],
                keys=keys,
            )
            svc.store.put(artifacts["pdf"], sealed["pdf"], "application/pdf")
            svc.store.put(artifacts["text"], sealed["text"], "text/plain; charset=utf-8")
            svc.store.put(artifacts["json"], sealed["json"], "application/json")
            # The manifest goes last: its presence says every file it signs is stored.
            svc.store.put(artifacts["manifest"], sealed["manifest"], "application/json")
            pid = rec.fields.get("personal_id")
            rows.append(
                RecordRow(
                    record_code=rec.record_code,
                    document_id=document_id,
                    first_page=rec.pages[0],
                    doc_type=rec.doc_type,
                    personal_id=pid.value if pid else None,
                    dossier_code=dossier,
                    status=rec.status.value,
                    body=body,
                    artifacts=artifacts,
                )
            )
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except errors.SohoaError as exc:
        _fail(document_id, exc)
        return 0
    review = any(r.status != RecordStatus.ready.value for r in rows)
    with svc.sessions() as session:
        existing = set(
            session.scalars(
                select(RecordRow.first_page).where(RecordRow.document_id == document_id)
            )
        )
        for row in rows:
            if row.first_page not in existing:
                session.add(row)
        session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(
                status=DocumentStatus.needs_review if review else DocumentStatus.ready,
                finished_at=utcnow(),
            )
        )
        session.commit()
    log.info("document=%s finished records=%d", document_id, len(rows))
    return len(rows)
