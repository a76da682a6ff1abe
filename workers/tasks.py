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
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from pipeline import errors
from pipeline.intake import triage
from pipeline.process import (
    PageResult,
    digitise_page,
    finish_document,
    record_archive_pdf,
    reread_from,
)
from pipeline.signing import AgencyKeys
from pipeline.types import FileKind, PageText, Triage
from schemas.db import Document, DocumentStatus, Page, RecordRow, utcnow
from schemas.record import RecordStatus
from workers import lifecycle
from workers.app import celery_app, services
from workers.services import original_key, page_key

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
        changed = session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == number, Page.status != "done")
            .values(status="done", rotation=page.rotation, mean_confidence=page.mean_confidence)
        )
        # An increment under the row's lock: two pages finishing at once both count
        # (a count read in each transaction would miss the other's uncommitted page).
        if getattr(changed, "rowcount", 0):
            session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(pages_done=Document.pages_done + 1)
            )
        session.commit()
    return number


@celery_app.task(name="sohoa.finish", bind=True, max_retries=5)
def finish(self: Any, document_id: str) -> int:
    """Classify, extract, seal and store each record, then save and publish them."""
    svc = services()
    settings = svc.settings
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
            reread=reread_from(results, settings.ocr_lang, settings.page_timeout_s),
        )
        keys = AgencyKeys.from_settings(settings)
        planned: list[lifecycle.Planned] = []
        seen: set[str] = set()
        with svc.sessions() as session:
            for rec in records:
                planned.append(
                    lifecycle.plan_digitised(
                        session,
                        rec,
                        agency_code=settings.agency_code,
                        auto_publish=settings.auto_publish,
                        planned_keys=seen,
                    )
                )
        for plan in planned:
            plan.artifacts["hocr"] = [page_key(document_id, n, "hocr") for n in plan.record.pages]
            lifecycle.seal_planned(svc.store, plan, record_archive_pdf(plan.record, results), keys)
    except TRANSIENT as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    except errors.SohoaError as exc:
        _fail(document_id, exc)
        return 0
    review = any(p.record.status is RecordStatus.needs_review for p in planned)
    events: list[tuple[str, RecordRow]] = []
    try:
        with svc.sessions() as session:
            existing = set(
                session.scalars(
                    select(RecordRow.first_page).where(RecordRow.document_id == document_id)
                )
            )
            for plan in planned:
                if plan.record.pages[0] in existing:
                    continue
                row = lifecycle.save_digitised(
                    session,
                    plan,
                    document_id=document_id,
                    first_page=plan.record.pages[0],
                    dossier=dossier,
                )
                event = lifecycle.EVENTS.get(plan.record.status)
                if event:
                    events.append((event, row))
            session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(
                    status=DocumentStatus.needs_review if review else DocumentStatus.ready,
                    finished_at=utcnow(),
                )
            )
            session.flush()
            delivery_ids = lifecycle.emit(session, events)
            session.commit()
    except IntegrityError as exc:
        # Another worker saved a version of the same paper at the same moment: plan again.
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    lifecycle.dispatch(delivery_ids)
    log.info("document=%s finished records=%d", document_id, len(planned))
    return len(planned)
