"""The audit log: every personal-data read is appended to a hash chain that shows tampering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from api.keys import create_key
from schemas.audit import (
    HASHED,
    append,
    chain_head,
    entry_digest,
    pending,
    seal,
    verify_chain,
    write,
)
from schemas.db import AuditEntry, AuditLink, Document, RecordRow
from schemas.record import FieldValue, Record, RecordStatus
from tests.api.conftest import pg_services, wait_sealed
from tests.conftest import ROOT, embedded_env, settings_from
from workers.app import configure
from workers.services import Services, original_key, record_key

PID = "019301000123"
CODE = f"{PID}.citizen_id_card.{PID}.01"
AGENCY = "000.00.00.H55"
DOSSIER = "000.00.00.H55-251125-0007"


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Both paths: SQLite chains each entry at once; on PostgreSQL the hot reads write
    their entries pending and the app's sealer chains them (api/reads.py)."""
    env = embedded_env(tmp_path)
    if request.param == "postgresql":
        env["SOHOA_DATABASE_URL"] = request.getfixturevalue("empty_pg_url")
    return env


@pytest.fixture
def services(env: dict[str, str]) -> Services:
    settings = settings_from(env)
    configure(settings)
    return Services.from_settings(settings)


def _key(
    services: Services, name: str, *scopes: str, agency: str | None = AGENCY
) -> dict[str, str]:
    with services.sessions() as s:
        return {"X-API-Key": create_key(s, name, list(scopes), agency)}


@pytest.fixture
def record(services: Services) -> RecordRow:
    """One published record, stored directly (the pipeline is tested elsewhere)."""
    original = b"%PDF-1.7 original scan"
    sha = "ab" * 32
    services.store.put(original_key(sha), original)
    body = Record(
        record_code=CODE,
        document_id="d" * 32,
        source="cccd.pdf",
        sha256=sha,
        pages=[1],
        doc_type="citizen_id_card",
        doc_type_confidence=1.0,
        fields={"personal_id": FieldValue(value=PID, confidence=1.0)},
        status=RecordStatus.published,
    ).model_dump(mode="json")
    artifacts = {
        "original": original_key(sha),
        "json": record_key(CODE, "record.json"),
        "text": record_key(CODE, "text.txt"),
        "pdf": record_key(CODE, "archive.pdf"),
    }
    services.store.put(artifacts["json"], json.dumps(body).encode())
    services.store.put(artifacts["text"], f"CAN CUOC {PID}".encode())
    services.store.put(artifacts["pdf"], b"%PDF-1.7 archive")
    with services.sessions() as s:
        s.add(Document(id="d" * 32, sha256=sha, source="cccd.pdf", size=len(original)))
        s.flush()
        row = RecordRow(
            record_code=CODE,
            document_id="d" * 32,
            first_page=1,
            doc_type="citizen_id_card",
            personal_id=PID,
            status="published",
            body=body,
            artifacts=artifacts,
        )
        s.add(row)
        s.commit()
    return row


def _entries(services: Services) -> list[AuditEntry]:
    with services.sessions() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_every_personal_data_read_is_audited_with_actor_and_agency(
    client: TestClient, services: Services, record: RecordRow
) -> None:
    headers = {
        **_key(services, "portal", "records:read_personal", "records:read"),
        "X-Purpose": "reuse for birth registration",
        "X-Dossier-Code": DOSSIER,
    }
    reads = [
        ("/api/v1/records", {"personal_id": PID}, "records.search"),
        (f"/api/v1/records/{CODE}", None, "record.read"),
        *[
            (f"/api/v1/records/{CODE}/files/{kind}", None, f"record.download.{kind}")
            for kind in ("original", "pdf", "text", "json")
        ],
        (f"/api/v1/records/{CODE}/verify", None, "record.verify"),
    ]
    for url, params, action in reads:
        before = len(_entries(services))
        resp = client.get(url, params=params, headers=headers)
        assert resp.status_code == 200, (url, resp.text)
        entries = _entries(services)
        assert len(entries) == before + 1, url
        last = entries[-1]
        assert (last.actor, last.agency_code, last.action, last.personal_id) == (
            "portal",
            AGENCY,
            action,
            PID,
        )
        assert (last.purpose, last.dossier_code) == ("reuse for birth registration", DOSSIER)
        assert last.record_code == (None if action == "records.search" else CODE)
    wait_sealed(services)
    with services.sessions() as s:
        assert verify_chain(s) == (True, None)
        assert chain_head(s).entries == len(reads)


def test_a_bad_dossier_code_header_is_refused_before_reading(
    client: TestClient, services: Services, record: RecordRow
) -> None:
    headers = {**_key(services, "portal", "records:read_personal"), "X-Dossier-Code": "nope"}
    resp = client.get(f"/api/v1/records/{CODE}", headers=headers)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_dossier_code"
    assert _entries(services) == []


def _sohoa(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fill(services: Services, n: int) -> list[int]:
    ids = []
    with services.sessions() as s:
        for i in range(n):
            entry = append(
                s,
                actor="portal",
                action="record.read",
                agency_code=AGENCY,
                record_code=CODE,
                personal_id=PID,
                detail=f"read {i}",
            )
            s.commit()
            ids.append(entry.id)
    return ids


def test_an_edited_entry_is_detected(
    services: Services, env: dict[str, str], tmp_path: Path
) -> None:
    ids = _fill(services, 5)
    done = _sohoa(env, tmp_path, "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert "intact: 5 entries" in done.stdout
    with services.sessions() as s:
        s.execute(update(AuditEntry).where(AuditEntry.id == ids[2]).values(detail="nothing"))
        s.commit()
        assert verify_chain(s) == (False, ids[2])
    done = _sohoa(env, tmp_path, "audit", "verify")
    assert done.returncode == 1
    assert f"first bad entry: {ids[2]}" in done.stdout


def test_a_rehashed_edit_is_still_detected(services: Services) -> None:
    """Recomputing the edited entry's own hash only moves the break to the next entry."""
    ids = _fill(services, 4)
    with services.sessions() as s:
        entry = s.get(AuditEntry, ids[1])
        link = s.scalar(select(AuditLink).where(AuditLink.entry_id == ids[1]))
        assert entry is not None and link is not None
        entry.personal_id = "001099012345"
        content = {k: getattr(entry, k) for k in HASHED}
        link.entry_hash = entry_digest(content, link.prev_hash)
        s.commit()
        assert verify_chain(s) == (False, ids[2])


def test_an_entry_slipped_in_outside_the_chain_is_detected(services: Services) -> None:
    """An entry added by hand, neither chained nor pending, is not a legitimate entry."""
    _fill(services, 2)
    with services.sessions() as s:
        forged = AuditEntry(actor="portal", action="record.read", personal_id=PID)
        s.add(forged)
        s.commit()
        assert verify_chain(s) == (False, forged.id)


def test_a_deleted_middle_entry_is_detected(
    services: Services, env: dict[str, str], tmp_path: Path
) -> None:
    ids = _fill(services, 5)
    with services.sessions() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.id == ids[2]))
        s.commit()
        assert verify_chain(s) == (False, ids[2])  # its link names an entry that is gone
        s.execute(delete(AuditLink).where(AuditLink.entry_id == ids[2]))
        s.commit()
        assert verify_chain(s) == (False, ids[3])  # the link after the gap
    done = _sohoa(env, tmp_path, "audit", "verify")
    assert done.returncode == 1
    assert f"first bad entry: {ids[3]}" in done.stdout


def test_who_looked_at_a_citizens_papers(
    client: TestClient, services: Services, record: RecordRow
) -> None:
    portal = {**_key(services, "portal", "records:read_personal"), "X-Purpose": "reuse"}
    police = _key(services, "police", "records:read_personal", agency="000.00.00.H38")
    client.get(f"/api/v1/records/{CODE}", headers=portal)
    client.get(f"/api/v1/records/{CODE}/files/pdf", headers=police)
    client.get("/api/v1/records", params={"personal_id": "001099012345"}, headers=police)

    inspector = _key(services, "inspector", "audit:read")
    resp = client.get("/api/v1/audit", params={"personal_id": PID}, headers=inspector)
    assert resp.status_code == 200, resp.text
    seen = [
        (e["actor"], e["agency_code"], e["action"], e["record_code"], e["purpose"])
        for e in resp.json()["entries"]
    ]
    assert seen == [
        ("police", "000.00.00.H38", "record.download.pdf", CODE, None),
        ("portal", AGENCY, "record.read", CODE, "reuse"),
    ]
    by_record = client.get("/api/v1/audit", params={"record_code": CODE}, headers=inspector)
    assert len(by_record.json()["entries"]) == 2
    # Asking is itself audited, and the chain holds.
    last = _entries(services)[-1]
    assert (last.actor, last.action, last.record_code) == ("inspector", "audit.read", CODE)
    wait_sealed(services)
    with services.sessions() as s:
        assert verify_chain(s) == (True, None)


def test_audit_read_scope_is_enforced(client: TestClient, services: Services) -> None:
    for scopes in (["records:read"], ["records:read_personal"]):
        headers = _key(services, "nosy", *scopes)
        resp = client.get("/api/v1/audit", params={"personal_id": PID}, headers=headers)
        assert resp.status_code == 403
    assert client.get("/api/v1/audit").status_code == 401
    assert _entries(services) == []


def test_apikey_creation_is_audited(env: dict[str, str], tmp_path: Path) -> None:
    done = _sohoa(env, tmp_path, "apikey", "create", "portal", "--scope", "audit:read")
    assert done.returncode == 0, done.stderr
    refused = _sohoa(env, tmp_path, "apikey", "create", "x", "--scope", "no:such")
    assert refused.returncode == 2
    services = Services.from_settings(settings_from(env))
    entries = _entries(services)
    assert [(e.action, e.detail) for e in entries] == [
        ("apikey.create", "name=portal scopes=audit:read")
    ]
    assert entries[0].actor.startswith("cli:")
    wait_sealed(services)
    with services.sessions() as s:
        assert verify_chain(s) == (True, None)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_appends_keep_one_chain(backend: str, tmp_path: Path, request) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    env = embedded_env(tmp_path)
    if backend == "postgresql":
        env["SOHOA_DATABASE_URL"] = request.getfixturevalue("pg_url")
    services = Services.from_settings(settings_from(env))
    with services.sessions() as s:
        s.execute(delete(AuditEntry))
        s.commit()

    def writer(n: int) -> None:
        for i in range(10):
            with services.sessions() as s:
                append(s, actor=f"w{n}", action="record.read", personal_id=PID, detail=str(i))
                s.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    with services.sessions() as s:
        assert verify_chain(s) == (True, None)
        assert chain_head(s).entries == 40


AWKWARD = [
    'quote " and backslash \\ and slash /',
    "newline\nand tab\tand return\r",
    "control \x01\x1f and delete \x7f",
    "Nguyễn Thị Ánh Tuyết, Phường Dịch Vọng 🙂",
    "\u2028 line separator, \u00a0 nbsp",
    "",
]


def test_the_server_seals_with_the_same_hashes_as_python(empty_pg_url: str, tmp_path: Path) -> None:
    """On PostgreSQL, audit_seal (SQL) chains the entries; verify_chain (Python) recomputes
    every hash: awkward text, empty strings, NULLs and microsecond times must agree."""
    services = pg_services(tmp_path, empty_pg_url)
    with services.sessions() as s:
        for i, value in enumerate(AWKWARD):
            write(
                s,
                actor=value or "a",
                action="record.read",
                agency_code=None if i % 2 else value[:32],
                record_code=value,
                personal_id=None,
                dossier_code=value[:64] or None,
                purpose=value[:200],
                detail=value,
            )
        s.commit()
        assert pending(s) == len(AWKWARD)
        assert seal(s) == len(AWKWARD)
        s.commit()
        assert verify_chain(s) == (True, None)
        append(s, actor="cli:admin", action="apikey.list")  # Python-built entry, server-sealed
        s.commit()
        assert verify_chain(s) == (True, None)
        assert chain_head(s).entries == len(AWKWARD) + 1
