"""The hot reads on PostgreSQL (api/reads.py): same answers and audit entries as the
SQLAlchemy path, every read audited under concurrency, entries chained by the sealer,
and a clear 503 while the database is away."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from api.app import create_app
from api.deps import Caller
from api.keys import Client, create_key
from api.routes.records import _read_record
from api.routes.reuse import _citizen_records
from schemas.audit import append, chain_head, pending, verify_chain, write
from schemas.db import AuditEntry, AuditLink, Document, RecordRow
from schemas.record import FieldValue, Record, RecordStatus, Validity
from tests.api.conftest import pg_services, wait_sealed
from tests.conftest import ROOT, embedded_env, settings_from
from tests.faults.netfaults import TcpProxy
from workers.services import Services

PID = "019301000123"
AGENCY = "000.00.00.H55"
DOSSIER = "000.00.00.H55-251125-0007"
TODAY = dt.date.today()
YEAR = dt.timedelta(days=365)

#: (doc_type, status, validity, valid_from, valid_until): what the citizen holds.
HOLDINGS: list[tuple[str, str, str, dt.date | None, dt.date | None]] = [
    ("citizen_id_card", "published", "until", TODAY - 3 * YEAR, TODAY + 10 * YEAR),
    ("citizen_id_card", "published", "until", TODAY - 20 * YEAR, TODAY - 3 * YEAR),  # expired
    ("birth_certificate", "published", "no_expiry", dt.date(1993, 1, 4), None),
    ("marriage_certificate", "needs_review", "no_expiry", TODAY - YEAR, None),
    ("diploma", "published", "unknown", None, None),
    ("driving_licence", "published", "until", TODAY + YEAR, TODAY + 5 * YEAR),  # not yet
]


@pytest.fixture
def services(tmp_path: Path, empty_pg_url: str) -> Services:
    # No rate limit: the concurrency test sends 300 calls at once.
    return pg_services(tmp_path, empty_pg_url, SOHOA_RATE_LIMIT_PER_MINUTE="0")


def _hold(services: Services, pid: str = PID) -> list[str]:
    codes = []
    with services.sessions() as s:
        for i, (doc_type, status, validity, since, until) in enumerate(HOLDINGS, start=1):
            doc_id = f"{pid[-6:]}{i:02d}".ljust(32, "0")
            code = f"{pid}.{doc_type}.n{i}.01"
            body = Record(
                record_code=code,
                document_id=doc_id,
                source=f"{doc_type}.pdf",
                sha256=f"{i:02d}" * 32,
                pages=[1],
                doc_type=doc_type,
                doc_type_confidence=0.99,
                fields={"personal_id": FieldValue(value=pid, confidence=1.0)},
                status=RecordStatus(status),
            ).model_dump(mode="json")
            s.add(Document(id=doc_id, sha256=f"{pid[-6:]}{i:02d}" * 4, source="x.pdf", size=1))
            s.flush()
            s.add(
                RecordRow(
                    record_code=code,
                    document_id=doc_id,
                    first_page=1,
                    doc_type=doc_type,
                    personal_id=pid,
                    status=status,
                    body=body,
                    artifacts={},
                    validity=Validity(validity).value,
                    valid_from=since,
                    valid_until=until,
                )
            )
            codes.append(code)
        s.commit()
    return codes


def _key(services: Services, name: str = "portal") -> dict[str, str]:
    with services.sessions() as s:
        key = create_key(s, name, ["records:read_personal"], AGENCY)
    purpose = quote("đăng ký khai sinh")  # headers are ASCII: UTF-8, percent-encoded
    return {"X-API-Key": key, "X-Purpose": purpose, "X-Dossier-Code": DOSSIER}


@pytest.fixture
def api(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        assert c.app.state.reads is not None  # type: ignore[attr-defined]
        yield c


def _caller(name: str = "portal") -> Caller:
    client = Client(name=name, agency_code=AGENCY, scopes=frozenset())
    return Caller(client, "đăng ký khai sinh", DOSSIER)


AUDITED = ("actor", "agency_code", "action", "record_code", "personal_id", "dossier_code")


def _audited(services: Services) -> list[tuple[Any, ...]]:
    with services.sessions() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(*(getattr(e, k) for k in AUDITED), e.purpose, e.detail) for e in entries]


def test_citizen_lookup_agrees_with_the_plain_path(api: TestClient, services: Services) -> None:
    _hold(services)
    headers = _key(services)
    queries: list[dict[str, str]] = [
        {},
        {"doc_type": "citizen_id_card"},
        {"valid_on": (TODAY - 10 * YEAR).isoformat()},
        {"valid_on": (TODAY + 2 * YEAR).isoformat(), "doc_type": "driving_licence"},
        {"doc_type": "marriage_certificate"},
    ]
    for params in queries:
        fast = api.get(f"/api/v1/citizens/{PID}/records", params=params, headers=headers)
        assert fast.status_code == 200, fast.text
        day = dt.date.fromisoformat(params["valid_on"]) if "valid_on" in params else TODAY
        plain = _citizen_records(services, _caller(), PID, params.get("doc_type"), day, 100)
        assert fast.json() == {"records": plain}, params
    today = api.get(f"/api/v1/citizens/{PID}/records", headers=headers).json()["records"]
    # Valid today, published, dated: the current card and the birth certificate, newest first.
    assert [r["doc_type"] for r in today] == ["citizen_id_card", "birth_certificate"]
    entries = _audited(services)
    fast_entries, plain_entries = entries[0::2][: len(queries)], entries[1::2][: len(queries)]
    assert fast_entries == plain_entries  # same actor, agency, dossier, purpose and detail
    assert fast_entries[0][:6] == ("portal", AGENCY, "citizen.records", None, PID, DOSSIER)
    assert fast_entries[0][6:] == ("đăng ký khai sinh", f"doc_type=None valid_on={TODAY} hits=2")


def test_record_read_agrees_with_the_plain_path(api: TestClient, services: Services) -> None:
    codes = _hold(services)
    headers = _key(services)
    for code in codes:
        fast = api.get(f"/api/v1/records/{code}", headers=headers)
        assert fast.status_code == 200, fast.text
        assert fast.headers["content-type"] == "application/json"
        assert fast.json() == _read_record(services, code, _caller())
    missing = api.get(f"/api/v1/records/{PID}.diploma.nope.01", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    entries = _audited(services)
    assert len(entries) == 2 * len(codes)  # the miss is not an access to anyone's data
    assert entries[0::2] == entries[1::2]
    assert entries[0][:6] == ("portal", AGENCY, "record.read", codes[0], PID, DOSSIER)


def test_every_concurrent_read_is_audited_and_chained(api: TestClient, services: Services) -> None:
    """Fast reads from 16 threads, interleaved with entries appended (and chained at once)
    by another writer: every read has its entry and one unbroken chain holds them all."""
    codes = _hold(services)
    headers = _key(services)

    def read(i: int) -> int:
        if i % 3:
            url = f"/api/v1/records/{codes[i % len(codes)]}"
        else:
            url = f"/api/v1/citizens/{PID}/records"
        return api.get(url, headers=headers).status_code

    def other_writer() -> None:
        for i in range(20):
            with services.sessions() as s:
                append(s, actor="cli:admin", action="apikey.list", detail=str(i))
                s.commit()

    with ThreadPoolExecutor(17) as pool:
        appended = pool.submit(other_writer)
        statuses = list(pool.map(read, range(300)))
        appended.result()
    assert statuses == [200] * 300
    wait_sealed(services)
    with services.sessions() as s:
        assert verify_chain(s) == (True, None)
        assert chain_head(s).entries == 320
        reads = s.scalar(
            text(
                "SELECT count(*) FROM audit_log WHERE action IN ('record.read', 'citizen.records')"
            )
        )
        assert reads == 300


def test_pending_entries_left_by_a_dead_process_are_sealed_by_audit_verify(
    services: Services, tmp_path: Path
) -> None:
    """Entries written pending with no sealer running (the API process died): the chain is
    intact without them, and `sohoa audit verify` chains them before it checks."""
    with services.sessions() as s:
        append(s, actor="cli:admin", action="apikey.create")
        s.commit()
        for i in range(3):
            write(s, actor="portal", action="record.read", personal_id=PID, detail=str(i))
        s.commit()
        assert (verify_chain(s), chain_head(s).entries, pending(s)) == ((True, None), 1, 3)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "SOHOA_DATA_DIR": str(services.settings.resolved_data_dir),
        "SOHOA_DATABASE_URL": services.settings.db_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", "verify"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "audit log intact: 4 entries" in done.stdout
    with services.sessions() as s:
        assert pending(s) == 0
        order = list(
            s.scalars(
                select(AuditEntry.detail)
                .join(AuditLink, AuditLink.entry_id == AuditEntry.id)
                .order_by(AuditLink.seq)
            )
        )
    assert order == [None, "0", "1", "2"]


def test_database_away_gives_503_then_reads_resume(services: Services) -> None:
    codes = _hold(services)
    headers = _key(services)
    url = services.settings.db_url
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1) if ":" in host_port else (host_port, "5432")
    proxy = TcpProxy(host, int(port)).start()
    try:
        through = url.replace(f"@{host_port}/", f"@{proxy.address}/")
        env = embedded_env(Path(services.settings.resolved_data_dir))
        env["SOHOA_DATABASE_URL"] = through
        proxied = Services.from_settings(settings_from(env), migrate_db=False)
        with TestClient(create_app(proxied)) as api:
            assert api.get(f"/api/v1/records/{codes[0]}", headers=headers).status_code == 200
            proxy.cut()
            # The key is in the process's cache since the first call: only the read fails.
            down = api.get(f"/api/v1/citizens/{PID}/records", headers=headers)
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "database_unavailable"
            proxy.restore()
            for _ in range(50):
                again = api.get(f"/api/v1/records/{codes[0]}", headers=headers)
                if again.status_code == 200:
                    break
                time.sleep(0.2)
            assert again.status_code == 200
            assert json.loads(again.content)["record_code"] == codes[0]
    finally:
        proxy.stop()
