"""Thin Celery tasks: load inputs, call pipeline stages, store outputs, record progress.

sohoa.rasterise (triage, fan out) -> sohoa.ocr_page x N -> sohoa.finish.
Each page task rasterises, preprocesses and OCRs its own page, so pages of one
scan spread over every worker. The page that completes a document (counted in
the database, not in the result backend) enqueues finish: a broker or result
backend outage cannot lose the join the way a chord's counter could.

Guarantees (docs/operations.md):

* Idempotent, keyed by document and stage. rasterise and finish first claim the
  document with one conditional UPDATE, so a second copy of the message does
  nothing while the first holds it; page results are stored under keys of the
  document and page, the JSON last, and a redelivered page finds the JSON.
* Poison pages: each start of a page's OCR is counted in the database before the
  work; a clean end (success, a retried fault, a permanent error) does not count.
  The start after `POISON_AFTER` crashes quarantines the page and rejects the file.
  A page task killed at its hard time limit is published again (Celery acknowledges
  such a message), so a hang counts as a crash instead of waiting for the sweep.
* Transient faults (store, database, OCR engine) retry with exponential backoff and
  jitter; past `MAX_RETRIES` the document is parked and `sohoa retry` resumes it.
  Permanent errors reject the file at once. Anything unexpected marks it failed.
"""

from __future__ import annotations

import json
import logging
import random
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

from celery import Task
from celery.exceptions import Retry, TimeLimitExceeded
from celery.signals import worker_ready
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from config.settings import load_settings
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
from schemas.db import Document, DocumentStatus, Page, PageStatus, RecordRow, utcnow
from schemas.record import RecordStatus
from workers import lifecycle
from workers.app import celery_app, page_time_limit_s, services, visibility_timeout_s
from workers.services import Services, original_key, page_key

log = logging.getLogger(__name__)

TRANSIENT = (errors.StorageUnavailable, errors.DatabaseUnavailable, errors.OcrFailed)
#: What SQLAlchemy raises when the database cannot be reached (or drops the connection).
DB_UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
#: Retries of one task before its document is parked: ~2–4 min of waiting in all.
MAX_RETRIES = 8
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 60.0
#: A page whose OCR killed its worker this many times is quarantined at its next start.
POISON_AFTER = 3
#: Publishing waits out a broker outage (~3 min) instead of failing the task at once.
PUBLISH_RETRY = {
    "max_retries": 40,
    "interval_start": 0.5,
    "interval_step": 1.0,
    "interval_max": 5.0,
}
#: Documents nobody has touched for this long are re-enqueued by the sweep, at least.
MIN_STALLED_AFTER_S = 600

_original_cache: dict[str, bytes] = {}


def backoff_s(retries: int) -> float:
    """Exponential backoff with jitter: half the step fixed, half random.

    The random half spreads the retries of many tasks that failed together (an
    outage) so that they do not all hit the recovering service at the same instant.
    """
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retries)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def stalled_after_s(settings: Any) -> int:
    """Age of the last progress after which a document is considered dropped."""
    return max(MIN_STALLED_AFTER_S, 2 * visibility_timeout_s(settings))


@contextmanager
def _session() -> Iterator[Session]:
    """A session whose connection failures surface as DatabaseUnavailable (transient)."""
    try:
        with services().sessions() as session:
            yield session
    except DB_UNREACHABLE as exc:
        raise errors.DatabaseUnavailable() from exc


def _original(sha: str) -> bytes:
    """The original, kept for the next page task of the same file in this process."""
    if sha not in _original_cache:
        data = services().store.get(original_key(sha))
        _original_cache.clear()
        _original_cache[sha] = data
    return _original_cache[sha]


def _publish(task: Task, args: tuple[Any, ...], **options: Any) -> None:
    try:
        task.apply_async(args, retry=True, retry_policy=PUBLISH_RETRY, **options)
    except (BrokerError, AttributeError) as exc:
        # After a broker outage a pooled Redis channel can be left without its
        # connection (kombu raises AttributeError from inside its own retry): publish
        # once more on a fresh connection, which waits out the outage the same way.
        log.warning("publish failed (%s): again on a new connection", type(exc).__name__)
        with celery_app.connection_for_write() as conn:
            task.apply_async(
                args, connection=conn, retry=True, retry_policy=PUBLISH_RETRY, **options
            )


def _set_status(document_id: str, status: str, **values: Any) -> None:
    with _session() as session:
        session.execute(
            update(Document).where(Document.id == document_id).values(status=status, **values)
        )
        session.commit()


def _end(document_id: str, status: str, code: str, detail: str) -> None:
    """Record why a document stopped; best effort, the sweep covers a database outage."""
    log.warning("document=%s %s: %s", document_id, status, code)
    try:
        _set_status(
            document_id, status, error_code=code, error_message=detail, finished_at=utcnow()
        )
    except errors.DatabaseUnavailable:
        log.warning("document=%s not marked %s: database unavailable", document_id, status)


def _fail(document_id: str, exc: errors.SohoaError) -> None:
    status = DocumentStatus.rejected if exc.permanent else DocumentStatus.parked
    _end(document_id, status, exc.code, exc.detail)


def _park(document_id: str, exc: errors.SohoaError) -> None:
    """Stop retrying: the work done so far stays stored and `sohoa retry` resumes it."""
    log.warning("document=%s parked after %d retries: %s", document_id, MAX_RETRIES, exc.code)
    with _quiet_db():
        _set_status(
            document_id,
            DocumentStatus.parked,
            error_code=exc.code,
            error_message=exc.detail,
            finished_at=None,
        )


@contextmanager
def _quiet_db() -> Iterator[None]:
    try:
        yield
    except errors.DatabaseUnavailable:
        log.warning("database unavailable: status not recorded (the sweep will find it)")


def _internal(document_id: str, exc: BaseException) -> None:
    """A bug, not a fault: mark the document failed; the message names the type only."""
    log.error("document=%s failed: %s", document_id, type(exc).__name__)
    log.debug("document=%s traceback", document_id, exc_info=exc)
    _end(document_id, DocumentStatus.failed, "internal_error", f"{type(exc).__name__}")


def _retry_or_park(task: Task, document_id: str, exc: errors.SohoaError) -> int:
    """Retry a transient fault later, or park the document when retries are used up."""
    if task.request.retries >= MAX_RETRIES:
        _park(document_id, exc)
        return 0
    wait = backoff_s(task.request.retries)
    log.info("document=%s %s: retry in %.1f s", document_id, exc.code, wait)
    raise task.retry(
        exc=exc, countdown=wait, max_retries=MAX_RETRIES, retry=True, retry_policy=PUBLISH_RETRY
    )


def _guarded(task: Task, document_id: str, body: Any, *args: Any) -> int:
    """Run a task body with the fault policy: retry/park, reject, or fail."""
    try:
        return int(body(task, document_id, *args))
    except Retry:
        raise
    except DB_UNREACHABLE:
        return _retry_or_park(task, document_id, errors.DatabaseUnavailable())
    except TRANSIENT as exc:
        return _retry_or_park(task, document_id, exc)
    except errors.SohoaError as exc:
        _fail(document_id, exc)
        return 0
    except BrokerError:
        # The broker stayed away longer than PUBLISH_RETRY: our own message is not
        # acknowledged either, so it comes back; the sweep covers the rest.
        log.warning("document=%s broker unavailable", document_id)
        raise
    except Exception as exc:
        _internal(document_id, exc)
        return 0


# --- claims -------------------------------------------------------------------------


def _claim(
    document_id: str, to: str, from_statuses: Iterable[str], stale: Iterable[str], after_s: float
) -> bool:
    """Move the document to `to` if it is in `from_statuses`, or in `stale` with no progress
    for `after_s` seconds; one conditional UPDATE, so only one of two racing tasks wins."""
    cutoff = utcnow() - timedelta(seconds=after_s)
    with _session() as session:
        changed = session.execute(
            update(Document)
            .where(
                Document.id == document_id,
                Document.duplicate_of.is_(None),
                or_(
                    Document.status.in_(list(from_statuses)),
                    and_(Document.status.in_(list(stale)), Document.updated_at < cutoff),
                ),
            )
            .values(status=to, error_code=None, error_message=None, finished_at=None)
        )
        session.commit()
    return bool(getattr(changed, "rowcount", 0))


# --- rasterise ----------------------------------------------------------------------


@celery_app.task(name="sohoa.rasterise", bind=True, max_retries=MAX_RETRIES, ignore_result=True)
def rasterise_document(self: Task, document_id: str, stalled_after: float | None = None) -> int:
    """Triage the stored original and fan out one task per page still to do."""
    return _guarded(self, document_id, _rasterise, stalled_after)


def _rasterise(task: Task, document_id: str, stalled_after: float | None) -> int:
    svc = services()
    after = stalled_after_s(svc.settings) if stalled_after is None else stalled_after
    retried = task.request.retries > 0
    resumable = [DocumentStatus.received, *DocumentStatus.NEEDS_ACTION]
    if retried:
        # Our own earlier attempt left it rasterising: take it back.
        resumable.append(DocumentStatus.rasterising)
    if not _claim(document_id, DocumentStatus.rasterising, resumable, DocumentStatus.ACTIVE, after):
        log.info("document=%s not rasterised: final, or another task holds it", document_id)
        return 0
    with _session() as session:
        doc = session.get(Document, document_id)
        assert doc is not None
        sha = doc.sha256
    tri = triage(_original(sha), svc.limits)
    with _session() as session:
        existing = dict(
            session.execute(
                select(Page.number, Page.status).where(Page.document_id == document_id)
            ).all()
        )
        for n in range(1, tri.page_count + 1):
            if n not in existing:
                session.add(Page(document_id=document_id, number=n))
        done = sum(1 for s in existing.values() if s == PageStatus.done)
        session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(status=DocumentStatus.ocr, page_count=tri.page_count, pages_done=done)
        )
        session.commit()
    todo = [n for n in range(1, tri.page_count + 1) if existing.get(n) != PageStatus.done]
    if not todo:
        _publish(finish, (document_id,))
        return 0
    triage_dict = {"kind": tri.kind.value, "page_count": tri.page_count, "mime": tri.mime}
    limit = page_time_limit_s(svc.settings)
    for n in todo:
        _publish(ocr_page, (document_id, n, triage_dict), time_limit=limit)
    return len(todo)


# --- pages --------------------------------------------------------------------------


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
    # The JSON last: its presence says the page is complete.
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


@contextmanager
def page_deadline(seconds: float, number: int) -> Iterator[None]:
    """Raise PageTimeout when one page's own work runs past the limit.

    Tesseract and pdftoppm have their own timeouts; this also bounds preprocessing.
    Store and database calls stay outside, so an outage is never taken for a hostile
    page. Only the main thread receives the alarm (prefork and solo pools run tasks there).
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        raise errors.PageTimeout(f"Page {number} took longer than {seconds:g} s.")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _start_attempt(document_id: str, number: int) -> int:
    """Count this start in the database before any work; returns the count."""
    with _session() as session:
        attempts = session.scalar(
            update(Page)
            .where(Page.document_id == document_id, Page.number == number)
            .values(attempts=Page.attempts + 1)
            .returning(Page.attempts)
        )
        session.commit()
    return int(attempts or 0)


def _undo_attempt(document_id: str, number: int) -> None:
    """This start ended cleanly (a fault we retry): it must not count as a crash."""
    with _quiet_db(), _session() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == number, Page.attempts > 0)
            .values(attempts=Page.attempts - 1)
        )
        session.commit()


def _quarantine(document_id: str, number: int, attempts: int) -> None:
    exc = errors.PoisonPage(f"Page {number} stopped its worker {attempts - 1} times.")
    log.warning("document=%s page=%d quarantined: %s", document_id, number, exc.code)
    with _session() as session:
        session.execute(
            update(Page)
            .where(Page.document_id == document_id, Page.number == number)
            .values(status=PageStatus.poison)
        )
        session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(
                status=DocumentStatus.rejected,
                error_code=exc.code,
                error_message=exc.detail,
                finished_at=utcnow(),
            )
        )
        session.commit()


def _mark_done(document_id: str, number: int, page: PageText) -> bool:
    """Count the page once; True when every page of the document is done."""
    with _session() as session:
        changed = session.execute(
            update(Page)
            .where(
                Page.document_id == document_id,
                Page.number == number,
                Page.status != PageStatus.done,
            )
            .values(
                status=PageStatus.done,
                rotation=page.rotation,
                mean_confidence=page.mean_confidence,
            )
        )
        if getattr(changed, "rowcount", 0):
            # An increment under the row's lock: two pages finishing at once both count.
            row = session.execute(
                update(Document)
                .where(Document.id == document_id)
                .values(pages_done=Document.pages_done + 1)
                .returning(Document.pages_done, Document.page_count)
            ).one()
            done, total = int(row[0]), int(row[1])
        else:
            # Redelivered after the page was counted: finish may not have been enqueued.
            done = int(
                session.scalar(
                    select(func.count())
                    .select_from(Page)
                    .where(Page.document_id == document_id, Page.status == PageStatus.done)
                )
                or 0
            )
            total = int(
                session.scalar(select(Document.page_count).where(Document.id == document_id)) or 0
            )
        session.commit()
    return total > 0 and done >= total


class RequeuedOnTimeLimit(Task):
    """A task that comes back when its pool process is killed at the hard time limit.

    Celery treats that kill as a failure and acknowledges the message; left so, the
    page would wait for the stalled-work sweep. on_failure runs in the worker's main
    process, which is still up, and publishes the same call again after a backoff.
    The start was counted (`_start_attempt`), so a page that hangs every time is
    quarantined as poison_page after POISON_AFTER kills, like one that crashes.
    """

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if not isinstance(exc, TimeLimitExceeded):
            return
        document_id = args[0] if args else kwargs.get("document_id", "?")
        log.warning(
            "document=%s %s hit its hard time limit: published again", document_id, self.name
        )
        try:
            settings = celery_app.conf.get("sohoa_settings") or load_settings()
            _publish(
                self, tuple(args), countdown=backoff_s(0), time_limit=page_time_limit_s(settings)
            )
        except BrokerError:
            log.warning("document=%s not published again: broker unavailable", document_id)


@celery_app.task(
    name="sohoa.ocr_page",
    bind=True,
    base=RequeuedOnTimeLimit,
    max_retries=MAX_RETRIES,
    ignore_result=True,
)
def ocr_page(self: Task, document_id: str, number: int, triage_dict: dict[str, Any]) -> int:
    """Rasterise, preprocess and OCR one page; skip if its result is already stored."""
    return _guarded(self, document_id, _ocr_page, number, triage_dict)


def _ocr_page(_task: Task, document_id: str, number: int, triage_dict: dict[str, Any]) -> int:
    svc = services()
    settings = svc.settings
    with _session() as session:
        doc = session.get(Document, document_id)
        if doc is None or doc.status not in DocumentStatus.ACTIVE:
            return 0  # final, parked or quarantined: the rest of the file is not processed
        sha = doc.sha256
    if svc.store.exists(page_key(document_id, number, "json")):
        page = _load_page(document_id, number).page
    else:
        attempts = _start_attempt(document_id, number)
        if attempts > POISON_AFTER:
            _quarantine(document_id, number, attempts)
            return 0
        try:
            tri = Triage(
                kind=FileKind(triage_dict["kind"]),
                page_count=int(triage_dict["page_count"]),
                mime=str(triage_dict["mime"]),
            )
            original = _original(sha)
            with page_deadline(settings.page_timeout_s, number):
                result = digitise_page(
                    original,
                    tri,
                    number,
                    settings.raster_dpi,
                    settings.ocr_lang,
                    settings.page_timeout_s,
                )
            _store_page(document_id, result)
        except (*TRANSIENT, *DB_UNREACHABLE):
            _undo_attempt(document_id, number)
            raise
        except errors.SohoaError:
            with _quiet_db(), _session() as session:
                session.execute(
                    update(Page)
                    .where(Page.document_id == document_id, Page.number == number)
                    .values(status=PageStatus.failed)
                )
                session.commit()
            raise
        page = result.page
        log.info("document=%s page=%d digitised", document_id, number)
    if _mark_done(document_id, number, page):
        _publish(finish, (document_id,))
    return number


# --- finish -------------------------------------------------------------------------


@celery_app.task(name="sohoa.finish", bind=True, max_retries=MAX_RETRIES, ignore_result=True)
def finish(self: Task, document_id: str) -> int:
    """Classify, extract, seal and store each record, then save and publish them."""
    return _guarded(self, document_id, _finish_guarded)


def _finish_guarded(task: Task, document_id: str) -> int:
    lease = visibility_timeout_s(services().settings)
    if not _claim(
        document_id,
        DocumentStatus.classifying,
        [DocumentStatus.ocr],
        [DocumentStatus.classifying],
        lease,
    ):
        with _session() as session:
            status = session.scalar(select(Document.status).where(Document.id == document_id))
        if status == DocumentStatus.classifying:
            # Another finish holds it (or died holding it): look again when its lease ends.
            _publish(finish, (document_id,), countdown=lease + backoff_s(0))
        return 0
    try:
        return _finish(task, document_id)
    except (*TRANSIENT, *DB_UNREACHABLE, IntegrityError):
        # Hand the claim back so that the retry can take it at once.
        with _quiet_db():
            _set_status(document_id, DocumentStatus.ocr)
        raise


def _finish(task: Task, document_id: str) -> int:
    svc = services()
    settings = svc.settings
    with _session() as session:
        doc = session.get(Document, document_id)
        assert doc is not None
        numbers = list(
            session.scalars(
                select(Page.number)
                .where(Page.document_id == document_id, Page.status == PageStatus.done)
                .order_by(Page.number)
            )
        )
        if not numbers or len(numbers) < doc.page_count:
            log.warning("document=%s finish before its pages: left for the sweep", document_id)
            return 0
        source, sha, dossier = doc.source, doc.sha256, doc.dossier_code
        taken = set(
            session.scalars(
                select(RecordRow.record_code).where(RecordRow.document_id != document_id)
            )
        )
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
    with _session() as session:
        saved = set(
            session.scalars(
                select(RecordRow.first_page).where(RecordRow.document_id == document_id)
            )
        )
        for rec in records:
            if rec.pages[0] in saved:
                continue  # saved by an earlier run of this task: not planned (or sealed) again
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
    review = any(r.status is RecordStatus.needs_review for r in records)
    events: list[tuple[str, RecordRow]] = []
    with _session() as session:
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
    lifecycle.dispatch(delivery_ids)
    log.info("document=%s finished records=%d", document_id, len(planned))
    return len(planned)


# --- recovery -----------------------------------------------------------------------


def requeue(
    svc: Services,
    *,
    document_ids: Iterable[str] = (),
    parked: bool = False,
    stalled_after: float | None = None,
) -> list[str]:
    """Enqueue rasterise for documents that nobody holds; returns their IDs.

    Picked: the given documents, every parked or failed one when `parked`, and
    documents received or in progress with no progress for `stalled_after` seconds
    (a lost message, a broker outage at ingest, a finish that never came). The task
    claims each one again, so a document that is in fact in progress is left alone.
    """
    after = stalled_after_s(svc.settings) if stalled_after is None else stalled_after
    cutoff = utcnow() - timedelta(seconds=after)
    resumable = [DocumentStatus.received, *DocumentStatus.ACTIVE]
    picks = [
        and_(Document.status.in_(resumable), Document.updated_at < cutoff),
    ]
    if parked:
        picks.append(Document.status.in_(list(DocumentStatus.NEEDS_ACTION)))
    ids = list(document_ids)
    if ids:
        picks = [
            and_(
                Document.id.in_(ids),
                or_(
                    Document.status.in_([DocumentStatus.received, *DocumentStatus.NEEDS_ACTION]),
                    *picks,
                ),
            )
        ]
    with _session() as session:
        found = list(
            session.scalars(
                select(Document.id)
                .where(Document.duplicate_of.is_(None), or_(*picks))
                .order_by(Document.created_at)
            )
        )
    for doc_id in found:
        _publish(rasterise_document, (doc_id, after))
    return found


@celery_app.task(name="sohoa.sweep", ignore_result=True)
def sweep() -> int:
    """Re-enqueue documents received or in progress that nobody has touched for a while."""
    found = requeue(services())
    if found:
        log.warning("sweep re-enqueued %d stalled documents", len(found))
    return len(found)


@celery_app.task(name="sohoa.sanity_check", ignore_result=True)
def sanity_check(sample: int = 50) -> int:
    """Re-hash a random sample of originals and records against the database and their
    signed manifests (workers/doctor.py), so silent corruption in storage is noticed."""
    from workers import doctor

    report = doctor.rehash(services(), sample=sample)
    for problem in report.problems:
        # Kinds and subjects are codes, hashes and row ids: no personal data.
        log.error("sanity check: %s %s", problem.kind, problem.subject)
    return len(report.problems)


@celery_app.task(name="sohoa.orphan_check", ignore_result=True)
def orphan_check() -> int:
    """Start-up check of the intake's two writes: originals without rows and rows without
    originals (a crash between them). Report only: an upload in flight looks the same
    for a moment, so repairing is left to `sohoa doctor --repair`."""
    from workers import doctor

    report = doctor.find_orphans(services(), repair=False)
    open_problems = [p for p in report.problems if not p.resolved]
    for problem in open_problems:
        log.warning("start-up check: %s %s (sohoa doctor --repair)", problem.kind, problem.subject)
    return len(open_problems)


@worker_ready.connect
def _sweep_at_start(**_kwargs: Any) -> None:
    """A worker coming back after an outage looks for work that was dropped meanwhile,
    and for originals and rows that a crash at intake left without each other."""
    try:
        sweep.apply_async(retry=True, retry_policy=PUBLISH_RETRY)
        orphan_check.apply_async(retry=True, retry_policy=PUBLISH_RETRY)
    except BrokerError:
        log.warning("start-up sweep not queued: broker unavailable")
