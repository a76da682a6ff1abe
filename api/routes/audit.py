"""Who read what: the audit log, for auditors (scope audit:read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import Caller, SessionDep, audit, need
from api.routes.records import PersonalIdQuery, TextQuery
from api.routes.webhooks import UtcDatetime
from schemas.db import AuditEntry

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: UtcDatetime
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


@router.get("/api/v1/audit", response_model=AuditList)
def list_audit(
    c: Annotated[Caller, Depends(need("audit:read"))],
    s: SessionDep,
    personal_id: PersonalIdQuery = None,
    record_code: TextQuery = None,
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
    return AuditList(entries=[AuditEntryOut.model_validate(e, from_attributes=True) for e in rows])
