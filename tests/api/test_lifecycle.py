"""Review, versions, validity, reuse, de-duplication and KPIs through the API.

Records are made by the same functions the worker's finish task calls (plan, seal
with the agency's real keys, save), so what is tested here is what is published;
the pipeline that reads the paper is tested elsewhere.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pikepdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from api.keys import create_key
from pipeline.signing import AgencyKeys
from schemas.db import AuditEntry, Document, RecordRow
from schemas.record import FieldValue, Record, RecordStatus
from tests.conftest import embedded_env, settings_from
from workers import lifecycle
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services

PID = "019099012345"
OTHER_PID = "006185004321"
TODAY = dt.date.today()
_scans = 0
DOSSIER = f"000.00.00.H55-{TODAY:%y%m%d}-0001"


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Services:
    env = embedded_env(tmp_path)
    if request.param == "postgresql":
        env["SOHOA_DATABASE_URL"] = request.getfixturevalue("empty_pg_url")
    settings = settings_from(env)
    configure(settings)
    return Services.from_settings(settings)


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        yield c


def _key(services: Services, *scopes: str, agency: str | None = None) -> dict[str, str]:
    with services.sessions() as s:
        return {"X-API-Key": create_key(s, f"client-{len(scopes)}", list(scopes), agency)}


def _pdf(title: str = "archive") -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = title
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _digitise(
    services: Services,
    fields: dict[str, str],
    *,
    status: RecordStatus = RecordStatus.needs_review,
    doc_type: str = "citizen_id_card",
    dossier: str | None = None,
    original: bytes | None = None,
) -> RecordRow:
    """What the finish task does for one paper: plan, seal, save (and link the dossier)."""
    global _scans
    _scans += 1
    data = original or _pdf(f"scan {_scans}")
    ing = ingest_bytes(services, "scan.pdf", data, dossier, enqueue=False)
    from pipeline.lifecycle import validity_of

    period = validity_of(doc_type, fields)
    rec = Record(
        record_code=f"{fields.get('personal_id', 'x')}.{doc_type}.p1.01",
        document_id=ing.document_id,
        source="scan.pdf",
        sha256=ing.sha256,
        dossier_code=dossier,
        pages=[1],
        doc_type=doc_type,
        doc_type_confidence=0.97,
        fields={k: FieldValue(value=v, confidence=0.55) for k, v in fields.items()},
        text="CĂN CƯỚC CÔNG DÂN",
        status=status,
        validity=period.kind,
        valid_from=period.valid_from,
        valid_until=period.valid_until,
    )
    with services.sessions() as s:
        plan = lifecycle.plan_digitised(
            s, rec, agency_code="000.00.00.H55", auto_publish=True, planned_keys=set()
        )
    lifecycle.seal_planned(
        services.store, plan, _pdf(), AgencyKeys.from_settings(services.settings)
    )
    with services.sessions() as s:
        row = lifecycle.save_digitised(
            s, plan, document_id=ing.document_id, first_page=1, dossier=dossier
        )
        doc = s.get(Document, ing.document_id)
        assert doc is not None and doc.status == "received", doc and doc.status
        doc.status = "needs_review" if status is RecordStatus.needs_review else "ready"
        s.commit()
        s.refresh(row)
        return row


def _card(pid: str = PID, name: str = "NGUYỄN VĂN AN") -> dict[str, str]:
    return {
        "personal_id": pid,
        "full_name": name,
        "date_of_birth": "1999-03-04",
        "issue_date": "2021-05-01",
        "expiry_date": "2039-03-04",
    }


def _audit(services: Services, action: str) -> list[AuditEntry]:
    with services.sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_review_approve_with_a_correction_makes_a_new_published_version(
    api: TestClient, services: Services
) -> None:
    row = _digitise(services, _card(name="NGUYEN VAN AN"))
    code = row.record_code
    assert row.status == "needs_review" and row.version == 1
    reader = _key(services, "records:read_personal", "records:read")
    operator = _key(services, "scans:write")

    # Awaiting review: readable, but never offered for reuse.
    assert api.get(f"/api/v1/records/{code}", headers=reader).json()["status"] == "needs_review"
    offered = api.get(f"/api/v1/citizens/{PID}/records", headers=reader).json()["records"]
    assert offered == []

    # Approving needs the operator's scope; a reader gets 403 whether or not the record exists.
    for c in (code, "no.such.record.01"):
        resp = api.post(f"/api/v1/records/{c}/approve", headers=reader, json={})
        assert resp.status_code == 403
    resp = api.post(
        f"/api/v1/records/{code}/approve",
        headers={**operator, "X-Purpose": quote("kiểm tra")},
        json={"corrections": {"full_name": "nguyễn văn an"}, "note": "tên có dấu"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "published" and body["version"] == 2
    assert body["fields"]["full_name"]["value"] == "NGUYỄN VĂN AN"
    assert body["fields"]["full_name"]["confidence"] == 1.0

    versions = api.get(f"/api/v1/records/{code}/versions", headers=reader).json()
    assert versions["current"] == 2
    assert [(v["version"], v["reason"]) for v in versions["versions"]] == [
        (1, "digitised"),
        (2, "approval"),
    ]
    old = api.get(f"/api/v1/records/{code}/versions/1", headers=reader).json()
    assert old["fields"]["full_name"]["value"] == "NGUYEN VAN AN", "the old version is kept"
    # The new version is sealed: every check passes on it.
    check = api.get(f"/api/v1/records/{code}/verify", headers=reader).json()
    assert check["ok"], check
    entry = _audit(services, "record.approve")[0]
    assert entry.record_code == code and "corrected=full_name" in (entry.detail or "")
    assert entry.purpose == "kiểm tra"
    assert "NGUY" not in (entry.detail or ""), "corrected values stay out of the audit detail"

    offered = api.get(f"/api/v1/citizens/{PID}/records", headers=reader).json()["records"]
    assert [r["record_code"] for r in offered] == [code]
    # Approving twice is refused: a published record is corrected, not approved again.
    again = api.post(f"/api/v1/records/{code}/approve", headers=operator, json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


def test_corrections_are_validated_and_rejected_records_stay_unoffered(
    api: TestClient, services: Services
) -> None:
    row = _digitise(services, _card())
    operator = _key(services, "scans:write")
    reader = _key(services, "records:read_personal")
    code = row.record_code
    bad = [
        {"corrections": {"no_such_field": "x"}},
        {"corrections": {"date_of_birth": "not a date"}},
        {"corrections": {"personal_id": "12"}},
    ]
    for body in bad:
        resp = api.post(f"/api/v1/records/{code}/corrections", headers=operator, json=body)
        assert resp.status_code == 422, body
    resp = api.post(f"/api/v1/records/{code}/reject", headers=operator, json={"reason": "mờ"})
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"
    assert api.post(f"/api/v1/records/{code}/approve", headers=operator, json={}).status_code == 409
    assert api.get(f"/api/v1/citizens/{PID}/records", headers=reader).json()["records"] == []
    assert api.get(f"/api/v1/records/{code}", headers=reader).json()["status"] == "rejected"


def test_citizen_lookup_offers_only_valid_published_records_newest_first(
    api: TestClient, services: Services
) -> None:
    card = _digitise(services, _card(), status=RecordStatus.digitised)
    assert card.status == "published", "a confident record is published by policy"
    birth = _digitise(
        services,
        {
            "personal_id": PID,
            "full_name": "NGUYỄN VĂN AN",
            "date_of_birth": "1999-03-04",
            "issue_date": "1999-04-01",
        },
        doc_type="birth_certificate",
        status=RecordStatus.digitised,
    )
    ct07 = _digitise(
        services,
        {"personal_id": PID, "full_name": "NGUYỄN VĂN AN", "issue_date": "2020-01-10"},
        doc_type="residence_confirmation",
        status=RecordStatus.digitised,
    )
    _digitise(services, _card(pid=OTHER_PID), status=RecordStatus.digitised)
    reader = _key(services, "records:read_personal")

    def offered(**params: str) -> list[str]:
        resp = api.get(f"/api/v1/citizens/{PID}/records", headers=reader, params=params)
        assert resp.status_code == 200, resp.text
        return [r["record_code"] for r in resp.json()["records"]]

    # Today the 30-day residence confirmation from 2020 has expired.
    assert offered() == [card.record_code, birth.record_code]
    assert offered(doc_type="birth_certificate") == [birth.record_code]
    assert offered(valid_on="2020-01-20") == [ct07.record_code, birth.record_code]
    assert offered(valid_on="2040-01-01") == [birth.record_code], "the card expired in 2039"
    assert offered(valid_on="1990-01-01") == [], "nothing was issued yet"
    # Every lookup is audited with the citizen's number.
    lookups = _audit(services, "citizen.records")
    assert len(lookups) == 5 and {e.personal_id for e in lookups} == {PID}
    # The scopes: metadata only is not enough, no key is 401, a malformed number 422.
    meta = _key(services, "records:read")
    assert api.get(f"/api/v1/citizens/{PID}/records", headers=meta).status_code == 403
    assert api.get(f"/api/v1/citizens/{PID}/records").status_code == 401
    assert api.get("/api/v1/citizens/12ab/records", headers=reader).status_code == 422


def test_reuse_links_once_audits_and_refuses_what_is_not_reusable(
    api: TestClient, services: Services
) -> None:
    card = _digitise(services, _card(), status=RecordStatus.digitised)
    pending = _digitise(services, _card(pid=OTHER_PID))
    reader = _key(services, "records:read_personal")
    new_dossier = f"000.00.00.H55-{TODAY:%y%m%d}-0042"
    url = f"/api/v1/dossiers/{new_dossier}/reuse"
    body = {"record_code": card.record_code, "purpose": "đăng ký kết hôn"}

    first = api.post(url, headers=reader, json=body)
    assert first.status_code == 200, first.text
    out = first.json()
    assert out["new_link"] is True and out["record"]["record_code"] == card.record_code
    files = {f["kind"]: f for f in out["files"]}
    assert set(files) >= {"pdf", "json", "text", "original"}
    pdf = api.get(files["pdf"]["url"], headers=reader)
    import hashlib

    assert hashlib.sha256(pdf.content).hexdigest() == files["pdf"]["sha256"]
    second = api.post(url, headers=reader, json=body)
    assert second.status_code == 200 and second.json()["new_link"] is False
    entries = _audit(services, "record.reuse")
    assert len(entries) == 2
    assert entries[0].dossier_code == new_dossier and entries[0].purpose == "đăng ký kết hôn"
    assert entries[0].personal_id == PID

    refused = api.post(url, headers=reader, json={**body, "record_code": pending.record_code})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_reusable"
    bad = api.post("/api/v1/dossiers/H55-1-2/reuse", headers=reader, json=body)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_dossier_code"
    elsewhere = _key(services, "records:read_personal", agency="000.00.00.H38")
    assert api.post(url, headers=elsewhere, json=body).status_code == 403
    missing = api.post(url, headers=reader, json={**body, "record_code": "x.y.z.01"})
    assert missing.status_code == 404
    dossier = api.get(f"/api/v1/dossiers/{new_dossier}", headers=_key(services, "records:read"))
    assert [(r["record_code"], r["relation"]) for r in dossier.json()["records"]] == [
        (card.record_code, "reused")
    ]


def test_identical_bytes_and_rescans_of_one_paper_make_no_second_record(
    api: TestClient, services: Services
) -> None:
    scan = _pdf("the same bytes twice")
    first = _digitise(services, _card(), status=RecordStatus.digitised, original=scan)
    other = f"000.00.00.H55-{TODAY:%y%m%d}-0007"
    again = ingest_bytes(services, "again.pdf", scan, other, enqueue=False)
    assert again.status == "duplicate" and again.duplicate_of == first.document_id
    reader = _key(services, "records:read")
    doc = api.get(f"/api/v1/documents/{again.document_id}", headers=reader).json()
    assert doc["duplicate_of"] == first.document_id and doc["records"] == [first.record_code]
    linked = api.get(f"/api/v1/dossiers/{other}", headers=reader).json()["records"]
    assert [r["record_code"] for r in linked] == [first.record_code]

    # A new scan of the same card (other bytes, same type and ID number): a new version.
    rescan = _digitise(services, _card(), status=RecordStatus.digitised)
    assert rescan.record_code == first.record_code and rescan.version == 2
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RecordRow)) == 1
        assert s.scalar(select(func.count()).select_from(Document)) == 3
    versions = api.get(f"/api/v1/records/{first.record_code}/versions", headers=reader).json()
    assert [v["reason"] for v in versions["versions"]] == ["digitised", "rescan"]
    # The first file still lists the record it made.
    doc = api.get(f"/api/v1/documents/{first.document_id}", headers=reader).json()
    assert doc["records"] == [first.record_code]


def test_kpis_count_digitised_and_reusing_dossiers_per_agency(
    api: TestClient, services: Services
) -> None:
    day = f"{TODAY:%y%m%d}"
    d1, d2, d3 = (f"000.00.00.H55-{day}-000{n}" for n in (1, 2, 3))
    card = _digitise(services, _card(), status=RecordStatus.digitised, dossier=d1)
    _digitise(services, _card(pid=OTHER_PID), dossier=d2)  # awaiting review: not digitised
    operator = _key(services, "scans:write")
    assert api.put(f"/api/v1/dossiers/{d3}", headers=operator).status_code == 200
    other_agency = f"000.00.00.H38-{day}-0001"
    assert api.put(f"/api/v1/dossiers/{other_agency}", headers=operator).status_code == 200
    reader = _key(services, "records:read_personal", "records:read")
    reuse = {"record_code": card.record_code, "purpose": "thủ tục mới"}
    assert api.post(f"/api/v1/dossiers/{d3}/reuse", headers=reader, json=reuse).status_code == 200

    resp = api.get("/api/v1/stats/kpi", headers=reader, params={"from": TODAY.isoformat()})
    assert resp.status_code == 200, resp.text
    kpi = resp.json()
    rows = {r["agency_code"]: r for r in kpi["agencies"]}
    h55 = rows["000.00.00.H55"]
    assert (h55["dossiers_received"], h55["dossiers_digitised"], h55["dossiers_reusing"]) == (
        3,
        1,
        1,
    )
    assert h55["digitised_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert h55["digitised_meets_target"] is False
    assert rows["000.00.00.H38"]["dossiers_received"] == 1
    assert kpi["total"]["dossiers_received"] == 4 and kpi["target"] == 0.8
    only = api.get("/api/v1/stats/kpi", headers=reader, params={"agency": "000.00.00.H38"}).json()
    assert [r["agency_code"] for r in only["agencies"]] == ["000.00.00.H38"]
    past = api.get("/api/v1/stats/kpi", headers=reader, params={"to": "2020-01-01"})
    assert past.status_code == 422
    # Approving the pending record makes dossier 2 digitised.
    pending = api.get(f"/api/v1/dossiers/{d2}", headers=reader).json()["records"][0]
    api.post(f"/api/v1/records/{pending['record_code']}/approve", headers=operator, json={})
    kpi = api.get("/api/v1/stats/kpi", headers=reader, params={"from": TODAY.isoformat()}).json()
    assert {r["agency_code"]: r for r in kpi["agencies"]}["000.00.00.H55"][
        "dossiers_digitised"
    ] == 2
