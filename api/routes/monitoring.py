"""Monitoring: Prometheus `/metrics`, the admin dashboard's data, retries and originals.

`/metrics` needs a key with scope `admin`, sent as `X-API-Key` or as
`Authorization: Bearer <key>` (what Prometheus' scrape config sends). There is no
unauthenticated loopback exception: behind a reverse proxy on the same host every
request comes from loopback. The metrics hold no personal data (docs/monitoring.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import Caller, ServicesDep, SessionDep, audit, error, need
from api.keys import Client, authenticate, cached_client
from api.routes.webhooks import UtcDatetime
from pipeline import errors
from schemas.db import Document
from workers import monitor
from workers.services import Services, original_key

router = APIRouter(tags=["monitoring"])

Admin = Annotated[Caller, Depends(need("admin"))]
DocumentId = Annotated[str, Path(min_length=1, max_length=64)]


class StageSeconds(BaseModel):
    p50: float | None = Field(description="Median seconds of the stage's runs in the last hour.")
    p95: float | None


class MinutePages(BaseModel):
    minute: UtcDatetime = Field(description="Start of the minute (UTC).")
    pages: int


class WorkerOut(BaseModel):
    name: str
    online: bool
    last_seen: UtcDatetime | None


class Overview(BaseModel):
    queues: dict[str, int] = Field(
        description="Waiting per stage: documents (rasterise, finish), pages (ocr_page),"
        " deliveries (deliver_webhook)."
    )
    pages_per_minute: list[MinutePages] = Field(description="The last 60 minutes, oldest first.")
    stage_seconds: dict[str, StageSeconds]
    workers: list[WorkerOut]


class FailedDocument(BaseModel):
    id: str
    source: str
    status: str
    error_code: str | None
    error_message: str | None
    dossier_code: str | None
    updated_at: UtcDatetime


class FailureList(BaseModel):
    documents: list[FailedDocument]


class RetryOut(BaseModel):
    id: str
    status: str


@router.get("/api/v1/admin/overview", response_model=Overview)
def overview(c: Admin, s: SessionDep) -> Overview:
    """Queue depth per stage, pages per minute over the last hour, p50/p95 per stage, workers."""
    return Overview(
        queues=monitor.queue_depths(s),
        pages_per_minute=[MinutePages(minute=at, pages=n) for at, n in monitor.pages_per_minute(s)],
        stage_seconds={k: StageSeconds(**v) for k, v in monitor.stage_seconds(s).items()},
        workers=[
            WorkerOut(name=w.name, online=w.online, last_seen=w.last_seen)
            for w in monitor.workers_seen(s)
        ],
    )


@router.get("/api/v1/admin/failures", response_model=FailureList)
def failures(
    c: Admin,
    s: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FailureList:
    """Rejected, failed and parked documents with their error codes, newest first."""
    rows = s.scalars(
        select(Document)
        .where(Document.status.in_(monitor.FAILURE_STATUSES))
        .order_by(Document.updated_at.desc(), Document.id)
        .limit(limit)
    )
    return FailureList(
        documents=[
            FailedDocument(
                id=d.id,
                source=d.source,
                status=d.status,
                error_code=d.error_code,
                error_message=d.error_message,
                dossier_code=d.dossier_code,
                updated_at=d.updated_at,
            )
            for d in rows
        ]
    )


@router.post(
    "/api/v1/admin/documents/{document_id}/retry",
    response_model=RetryOut,
    status_code=202,
    responses={
        409: {"description": "Not failed or parked; a rejected input is permanent."},
        503: {"description": "The broker is unavailable: the document keeps its failure."},
    },
)
def retry_document(document_id: DocumentId, c: Admin, s: SessionDep) -> RetryOut:
    """Queue a failed or parked document again from the start (audited).

    Pages already read are kept; the document goes back to `received`.
    """
    try:
        reset = monitor.reset_for_retry(s, document_id)
    except monitor.NotRetryable as exc:
        s.rollback()
        raise error(409, "not_retryable", f"A {exc.status} document cannot be retried.") from exc
    if reset is None:
        raise error(404, "not_found", "No such document.")
    audit(s, c, "document.retry", detail=f"document={document_id} was={reset.status}")
    try:
        monitor.enqueue_retry(s, reset)
    except Exception as exc:
        raise error(503, "broker_unavailable", "The task could not be queued.") from exc
    return RetryOut(id=document_id, status="received")


@router.get(
    "/api/v1/documents/{document_id}/original",
    response_class=Response,
    responses={
        200: {
            "description": "The file as it was received.",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        },
        410: {"description": "The stored original is gone."},
    },
)
def get_original(
    document_id: DocumentId,
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
    svc: ServicesDep,
) -> Response:
    """Download a document's original as received, e.g. to look at a failure (audited)."""
    doc = s.get(Document, document_id)
    if doc is None:
        raise error(404, "not_found", "No such document.")
    audit(s, c, "document.download.original", detail=f"document={doc.id}")
    try:
        data = svc.store.get(original_key(doc.sha256))
    except errors.ObjectMissing as exc:
        raise error(410, exc.code, "The stored original is missing.") from exc
    except errors.SohoaError as exc:
        raise error(503, exc.code, exc.detail) from exc
    return Response(
        content=data,
        media_type=doc.mime or "application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{doc.id}"'},
    )


def _bearer_or_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            key = token.strip()
    return key


def _lookup(svc: Services, key: str | None) -> Client | None:
    with svc.sessions() as s:
        return authenticate(s, key, svc.settings.auth_cache_ttl_s)


async def scraper(request: Request, svc: ServicesDep) -> Client:
    """An admin key from X-API-Key or a Bearer token (Prometheus' `authorization`)."""
    key = _bearer_or_key(request)
    hit, found = cached_client(key, svc.settings.auth_cache_ttl_s)
    if not hit:
        found = await run_in_threadpool(_lookup, svc, key)
    if found is None:
        raise error(401, "unauthenticated", "A valid X-API-Key or Bearer token is required.")
    if not found.allows("admin"):
        raise error(403, "forbidden", "This key lacks the scope admin.")
    return found


_METRICS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text format.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get("/metrics", response_class=Response, responses=_METRICS_DOC)
def metrics(c: Annotated[Client, Depends(scraper)], svc: ServicesDep) -> Response:
    """Prometheus metrics computed from the database (queues, statuses, rejections, OCR).

    Scope admin, as `X-API-Key` or `Authorization: Bearer`. The event-fed metrics
    (task counts and durations of every worker) are served by `sohoa monitor`.
    """
    registry = monitor.db_registry(svc.sessions, svc.settings)
    return Response(content=generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
