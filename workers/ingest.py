"""Intake for every door (CLI, hot folder, API): store the original, then its row, then enqueue.

A byte-identical file already digitised is not digitised again: its row links to
the earlier one (status duplicate) and its dossier to the records already made.

The original is written before the row exists, so a crash in between leaves an
orphan object (found by `sohoa doctor`), never a row pointing at nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pipeline import errors
from pipeline.intake import check_dossier_code, safe_name, sha256_of, triage
from schemas.db import Document, DocumentStatus, utcnow
from workers.lifecycle import find_duplicate, link_duplicate, register_dossier
from workers.services import Services, original_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ingested:
    document_id: str
    sha256: str
    source: str
    status: str
    page_count: int = 0
    error: errors.SohoaError | None = None
    duplicate_of: str | None = None
    #: False when the broker could not be reached: stored and received, queued later.
    queued: bool = False


def ingest_bytes(
    services: Services,
    source: str,
    data: bytes,
    dossier_code: str | None = None,
    enqueue: bool = True,
) -> Ingested:
    """Store, record and enqueue one file; a file that triage refuses is stored and rejected."""
    dossier_code = check_dossier_code(dossier_code)
    name = safe_name(source)
    sha = sha256_of(data)
    key = original_key(sha)
    if not services.store.exists(key):
        services.store.put(key, data)
    with services.sessions() as session:
        earlier = find_duplicate(session, sha)
        if earlier is not None:
            doc = Document(
                sha256=sha,
                source=name,
                dossier_code=dossier_code,
                size=len(data),
                mime=earlier.mime,
                page_count=earlier.page_count,
                status=DocumentStatus.duplicate,
                duplicate_of=earlier.id,
                finished_at=utcnow(),
            )
            session.add(doc)
            link_duplicate(session, earlier, dossier_code)
            session.commit()
            log.info("ingested document=%s duplicate_of=%s", doc.id, earlier.id)
            return Ingested(doc.id, sha, name, doc.status, doc.page_count, None, earlier.id)
    rejection: errors.SohoaError | None = None
    page_count = 0
    mime = None
    try:
        tri = triage(data, services.limits)
        page_count, mime = tri.page_count, tri.mime
    except errors.SohoaError as exc:
        rejection = exc
    with services.sessions() as session:
        doc = Document(
            sha256=sha,
            source=name,
            dossier_code=dossier_code,
            size=len(data),
            mime=mime,
            page_count=page_count,
            status=DocumentStatus.rejected if rejection else DocumentStatus.received,
            error_code=rejection.code if rejection else None,
            error_message=rejection.detail if rejection else None,
            finished_at=utcnow() if rejection else None,
        )
        session.add(doc)
        if dossier_code:
            # Counted as received for the KPIs even if none of its papers can be read.
            register_dossier(session, dossier_code)
        session.commit()
        doc_id = doc.id
    log.info("ingested document=%s sha256=%s status=%s", doc_id, sha[:12], doc.status)
    queued = False
    if rejection is None and enqueue:
        from workers.tasks import rasterise_document

        try:
            rasterise_document.delay(doc_id)
            queued = True
        except Exception as exc:  # the broker's errors vary by transport
            # Nothing is lost: the original and its row are stored (received); the
            # workers' sweep or `sohoa retry` queues it once the broker is back.
            log.warning("document=%s stored, not queued: broker %s", doc_id, type(exc).__name__)
    return Ingested(doc_id, sha, name, doc.status, page_count, rejection, queued=queued)
