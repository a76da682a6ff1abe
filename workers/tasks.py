"""Thin Celery tasks: load inputs, call a pipeline stage, store outputs, record progress.

rasterise_document -> chord(ocr_page x N) -> finish_document. Page tasks spread
over every worker; each writes its OCR result to the store keyed by document
and page, so a redelivered task finds its work done and returns at once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from celery import chord
from sqlalchemy import func, select, update

from pipeline import errors
from pipeline.assemble import archive_pdf
from pipeline.intake import triage
from pipeline.ocr import OcrEngine, TesseractEngine
from pipeline.process import finish_document, read_page
from pipeline.rasterise import decode_png, encode_png, rasterise
from pipeline.types import PageText
from schemas.db import Document, DocumentStatus, Page, RecordRow, utcnow
from schemas.record import RecordStatus
from workers.app import celery_app, services
from workers.services import original_key, page_image_key, page_ocr_key, record_key

log = logging.getLogger(__name__)

_engine: OcrEngine | None = None

TRANSIENT = (errors.StorageUnavailable, errors.DatabaseUnavailable, errors.OcrFailed)


def ocr_engine() -> OcrEngine:
    global _engine
    if _engine is None:
        _engine = TesseractEngine(lang=services().settings.ocr_lang)
    return _engine


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
    svc = services()
    with svc.sessions() as session:
        doc = session.get(Document, document_id)
        if doc is None or doc.status in DocumentStatus.FINAL:
            return 0
        sha = doc.sha256
    try:
        data = svc.store.get(original_key(sha))
        tri = triage(data, svc.limits)
        _set_status(document_id, DocumentStatus.rasterising, page_count=tri.page_count)
        numbers = []
        for page in rasterise(data, tri, svc.settings.raster_dpi, svc.settings.page_timeout_s):
            key = page_image_key(document_id, page.number)
            if not svc.store.exists(key):
                svc.store.put(key, encode_png(page.image, page.dpi), "image/png")
            numbers.append(page.number)
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except errors.SohoaError as exc:
        _fail(document_id, exc)
        return 0
    with svc.sessions() as session:
        existing = set(session.scalars(select(Page.number).where(Page.document_id == document_id)))
        for n in numbers:
            if n not in existing:
                session.add(Page(document_id=document_id, number=n))
        session.commit()
    _set_status(document_id, DocumentStatus.ocr)
    chord(ocr_page.si(document_id, n) for n in numbers)(finish.si(document_id))
    return len(numbers)


@celery_app.task(name="sohoa.ocr_page", bind=True, max_retries=5)
def ocr_page(self: Any, document_id: str, number: int) -> int:
    svc = services()
    key = page_ocr_key(document_id, number)
    try:
        if not svc.store.exists(key):
            image, dpi = decode_png(svc.store.get(page_image_key(document_id, number)))
            page = read_page(image, number, dpi, ocr_engine())
            svc.store.put(key, json.dumps(page.to_dict()).encode(), "application/json")
            rotation, confidence = page.rotation, page.mean_confidence
        else:
            cached = PageText.from_dict(json.loads(svc.store.get(key)))
            rotation, confidence = cached.rotation, cached.mean_confidence
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except errors.SohoaError as exc:
        _fail(document_id, exc)
        raise
    with svc.sessions() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == number)
            .values(status="done", rotation=rotation, mean_confidence=confidence)
        )
        done = session.scalar(
            select(func.count()).where(Page.document_id == document_id, Page.status == "done")
        )
        session.execute(update(Document).where(Document.id == document_id).values(pages_done=done))
        session.commit()
    return number


@celery_app.task(name="sohoa.finish", bind=True, max_retries=5)
def finish(self: Any, document_id: str) -> int:
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
        pages = [
            PageText.from_dict(json.loads(svc.store.get(page_ocr_key(document_id, n))))
            for n in numbers
        ]
        records = finish_document(
            document_id=document_id,
            source=source,
            sha256=sha,
            dossier_code=dossier,
            pages=pages,
            code_taken=taken.__contains__,
        )
        rows = []
        for rec in records:
            images = [
                decode_png(svc.store.get(page_image_key(document_id, n)))[0] for n in rec.pages
            ]
            body = rec.model_dump(mode="json")
            artifacts = {
                "original": original_key(sha),
                "json": record_key(rec.record_code, "record.json"),
                "text": record_key(rec.record_code, "text.txt"),
                "pdf": record_key(rec.record_code, "archive.pdf"),
            }
            svc.store.put(
                artifacts["json"],
                json.dumps(body, ensure_ascii=False, indent=2).encode(),
                "application/json",
            )
            svc.store.put(artifacts["text"], rec.text.encode(), "text/plain; charset=utf-8")
            svc.store.put(
                artifacts["pdf"], archive_pdf(images, svc.settings.raster_dpi), "application/pdf"
            )
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
