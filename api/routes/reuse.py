"""Reuse: what sohoa already holds for a citizen, linking it to a new dossier, and the KPIs.

The reuse rate the provinces are scored on (DOMAIN.md) counts dossiers that took at
least one component from already-digitised records: the links made by
`POST /api/v1/dossiers/{code}/reuse`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from api.deps import (
    Caller,
    ServicesDep,
    SessionDep,
    audit,
    clean_text,
    error,
    need,
    pg_reads,
    unavailable,
    who,
)
from api.reads import Unavailable
from api.routes.records import FILE_KINDS, PLAIN, DocTypeQuery, find_record
from api.routes.webhooks import UtcDatetime
from pipeline import errors
from pipeline import lifecycle as rules
from schemas.db import Document, DocumentStatus, Dossier, DossierRecord, RecordRow
from schemas.record import Record, RecordStatus, Validity
from workers import lifecycle
from workers.services import Services

router = APIRouter(tags=["reuse"])

PersonalId = Annotated[
    str, Path(pattern=r"^(\d{9}|\d{12})$", description="12-digit personal ID (or 9-digit legacy).")
]
#: DOMAIN.md: both KPIs earn full points at 80 %.
KPI_TARGET = 0.8


class RecordList(BaseModel):
    records: list[Record]


class DossierOut(BaseModel):
    code: str
    agency_code: str
    received_on: dt.date


class LinkOut(BaseModel):
    record_code: str
    doc_type: str
    status: str
    relation: str = Field(description="submitted (scanned for this dossier) or reused.")
    linked_at: UtcDatetime


class DossierDetail(DossierOut):
    records: list[LinkOut]


class ReuseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_code: str = Field(min_length=1, max_length=200, pattern=PLAIN)
    purpose: str = Field(min_length=1, max_length=200, description="Why it is reused (audited).")


class FileOut(BaseModel):
    kind: str
    url: str
    media_type: str
    sha256: str | None = Field(description="From the signed manifest; None for unsigned kinds.")


class ReuseOut(BaseModel):
    dossier_code: str
    new_link: bool = Field(description="False when the record was already linked (idempotent).")
    linked_at: UtcDatetime
    record: Record
    files: list[FileOut]


class KpiRow(BaseModel):
    agency_code: str
    dossiers_received: int
    dossiers_digitised: int
    dossiers_reusing: int
    digitised_rate: float | None = Field(description="None when no dossier was received.")
    reuse_rate: float | None
    digitised_meets_target: bool
    reuse_meets_target: bool


class KpiOut(BaseModel):
    period_from: dt.date
    period_to: dt.date
    target: float
    agencies: list[KpiRow]
    total: KpiRow


def _dossier(code: str) -> rules.DossierCode:
    try:
        return rules.parse_dossier_code(code)
    except errors.InvalidDossierCode as exc:
        raise error(422, exc.code, exc.detail) from exc


@router.get("/api/v1/citizens/{personal_id}/records", response_model=RecordList)
async def citizen_records(
    request: Request,
    personal_id: PersonalId,
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    doc_type: DocTypeQuery = None,
    valid_on: dt.date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The citizen's reusable records: published, current and valid on `valid_on` (default
    today), newest first. Expired, superseded, unpublished records are never offered."""
    day = valid_on or dt.date.today()
    # The stored bodies were validated when they were saved: they are served as they are.
    reads = pg_reads(request)
    if reads is None:
        svc = request.app.state.services
        bodies = await run_in_threadpool(
            _citizen_records, svc, c, personal_id, doc_type, day, limit
        )
        return JSONResponse({"records": bodies})
    try:
        body = await reads.citizen(personal_id, doc_type, day, limit, who(c))
    except Unavailable as exc:
        raise unavailable() from exc
    return Response(body, media_type="application/json")


def _citizen_records(
    svc: Services, c: Caller, personal_id: str, doc_type: str | None, day: dt.date, limit: int
) -> list[dict[str, Any]]:
    q = (
        select(RecordRow.body)
        .where(
            RecordRow.personal_id == personal_id,
            RecordRow.status == RecordStatus.published.value,
            RecordRow.validity != Validity.unknown.value,
            or_(RecordRow.valid_from.is_(None), RecordRow.valid_from <= day),
            or_(RecordRow.valid_until.is_(None), RecordRow.valid_until >= day),
        )
        .order_by(RecordRow.valid_from.desc().nulls_last(), RecordRow.id.desc())
        .limit(limit)
    )
    if doc_type:
        q = q.where(RecordRow.doc_type == doc_type)
    with svc.sessions() as s:
        bodies = list(s.scalars(q))
        audit(
            s,
            c,
            "citizen.records",
            personal_id=personal_id,
            detail=f"doc_type={doc_type} valid_on={day.isoformat()} hits={len(bodies)}",
        )
    return bodies


@router.put("/api/v1/dossiers/{dossier_code}", response_model=DossierOut)
def register_dossier(
    dossier_code: str,
    c: Annotated[Caller, Depends(need("scans:write"))],
    s: SessionDep,
) -> DossierOut:
    """Declare a dossier received (idempotent), so that the KPIs count it even without scans."""
    parsed = _dossier(dossier_code)
    _same_agency(c, parsed)
    row = lifecycle.register_dossier(s, parsed.code)
    s.commit()
    return DossierOut(code=row.code, agency_code=row.agency_code, received_on=row.received_on)


@router.get("/api/v1/dossiers/{dossier_code}", response_model=DossierDetail)
def get_dossier(
    dossier_code: str,
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
) -> DossierDetail:
    """The records in a dossier (metadata only), scanned for it or reused into it."""
    parsed = _dossier(dossier_code)
    row = s.get(Dossier, parsed.code)
    if row is None:
        raise error(404, "not_found", "No such dossier.")
    links = s.execute(
        select(DossierRecord, RecordRow.doc_type, RecordRow.status)
        .join(RecordRow, RecordRow.record_code == DossierRecord.record_code)
        .where(DossierRecord.dossier_code == parsed.code)
        .order_by(DossierRecord.id)
    )
    return DossierDetail(
        code=row.code,
        agency_code=row.agency_code,
        received_on=row.received_on,
        records=[
            LinkOut(
                record_code=link.record_code,
                doc_type=doc_type,
                status=status,
                relation=link.relation,
                linked_at=link.created_at,
            )
            for link, doc_type, status in links
        ],
    )


def _same_agency(c: Caller, parsed: rules.DossierCode) -> None:
    """A key bound to an agency acts only on that agency's dossiers."""
    if c.client.agency_code and c.client.agency_code != parsed.agency_code:
        raise error(403, "forbidden", "This key acts for another agency.")


@router.post("/api/v1/dossiers/{dossier_code}/reuse", response_model=ReuseOut)
def reuse_record(
    dossier_code: str,
    req: ReuseRequest,
    c: Annotated[Caller, Depends(need("records:read_personal"))],
    s: SessionDep,
    svc: ServicesDep,
) -> ReuseOut:
    """Take an already-digitised record into a new dossier instead of asking for the paper."""
    parsed = _dossier(dossier_code)
    _same_agency(c, parsed)
    row = find_record(s, req.record_code)
    purpose = clean_text(req.purpose)
    try:
        link, new = lifecycle.reuse(
            s, row, parsed.code, actor=c.client.name, purpose=purpose, today=dt.date.today()
        )
    except errors.NotReusable as exc:
        s.rollback()
        raise error(409, exc.code, exc.detail) from exc
    audit(s, c, "record.reuse", row, dossier_code=parsed.code, purpose=purpose)
    return ReuseOut(
        dossier_code=parsed.code,
        new_link=new,
        linked_at=link.created_at,
        record=Record.model_validate(row.body),
        files=_files(svc, row),
    )


def _files(svc: ServicesDep, row: RecordRow) -> list[FileOut]:
    try:
        manifest = json.loads(svc.store.get(row.artifacts["manifest"]))
        hashes = manifest.get("sha256", {})
    except (errors.SohoaError, KeyError, ValueError):
        hashes = {}
    return [
        FileOut(
            kind=kind,
            url=f"/api/v1/records/{row.record_code}/files/{kind}",
            media_type=media,
            sha256=hashes.get(kind),
        )
        for kind, media in FILE_KINDS.items()
        if row.artifacts.get(kind)
    ]


def _kpi_counts(
    s: Session, start: dt.date, end: dt.date, agency: str | None
) -> dict[str, dict[str, int]]:
    period = [Dossier.received_on >= start, Dossier.received_on <= end]
    if agency:
        period.append(Dossier.agency_code == agency)
    submitted = and_(
        DossierRecord.dossier_code == Dossier.code, DossierRecord.relation == "submitted"
    )
    published = exists(
        select(DossierRecord.id)
        .join(RecordRow, RecordRow.record_code == DossierRecord.record_code)
        .where(submitted, RecordRow.status == RecordStatus.published.value)
    )
    unpublished = exists(
        select(DossierRecord.id)
        .join(RecordRow, RecordRow.record_code == DossierRecord.record_code)
        .where(submitted, RecordRow.status != RecordStatus.published.value)
    )
    unfinished = exists(
        select(Document.id).where(
            Document.dossier_code == Dossier.code,
            Document.status.not_in(
                [DocumentStatus.ready, DocumentStatus.needs_review, DocumentStatus.duplicate]
            ),
        )
    )
    reused = exists(
        select(DossierRecord.id).where(
            DossierRecord.dossier_code == Dossier.code, DossierRecord.relation == "reused"
        )
    )
    counts: dict[str, dict[str, int]] = {}
    queries: dict[str, list[Any]] = {
        "received": [],
        "digitised": [published, ~unpublished, ~unfinished],
        "reusing": [reused],
    }
    for name, extra in queries.items():
        q = (
            select(Dossier.agency_code, func.count())
            .where(*period, *extra)
            .group_by(Dossier.agency_code)
        )
        for code, n in s.execute(q):
            counts.setdefault(code, {"received": 0, "digitised": 0, "reusing": 0})[name] = n
    return counts


def _kpi_row(agency: str, n: dict[str, int]) -> KpiRow:
    received = n["received"]
    dig = n["digitised"] / received if received else None
    reu = n["reusing"] / received if received else None
    return KpiRow(
        agency_code=agency,
        dossiers_received=received,
        dossiers_digitised=n["digitised"],
        dossiers_reusing=n["reusing"],
        digitised_rate=round(dig, 4) if dig is not None else None,
        reuse_rate=round(reu, 4) if reu is not None else None,
        digitised_meets_target=dig is not None and dig >= KPI_TARGET,
        reuse_meets_target=reu is not None and reu >= KPI_TARGET,
    )


@router.get("/api/v1/stats/kpi", response_model=KpiOut)
def kpi(
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
    agency: Annotated[str | None, Query(max_length=32, pattern=PLAIN)] = None,
    period_from: Annotated[dt.date | None, Query(alias="from")] = None,
    period_to: Annotated[dt.date | None, Query(alias="to")] = None,
) -> KpiOut:
    """Digitised rate and reuse rate (DOMAIN.md) of dossiers received in the period, per agency.

    A dossier counts as digitised when every file scanned for it was digitised and every
    record made from them is published; as reusing when at least one record was reused
    into it. The period is the dossier's receipt date (from its code); default: this month.
    """
    today = dt.date.today()
    start = period_from or today.replace(day=1)
    end = period_to or today
    if end < start:
        raise error(422, "invalid_period", "`to` is before `from`.")
    counts = _kpi_counts(s, start, end, agency)
    total = {k: sum(n[k] for n in counts.values()) for k in ("received", "digitised", "reusing")}
    return KpiOut(
        period_from=start,
        period_to=end,
        target=KPI_TARGET,
        agencies=[_kpi_row(a, counts[a]) for a in sorted(counts)],
        total=_kpi_row(agency or "*", total),
    )
