"""`GET /api/v1/records/{code}/verify` end to end: a real worker publishes, storage is altered."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.keys import create_key
from pipeline import signing
from schemas.db import RecordRow
from tests.conftest import WorkerProcess, embedded_env, settings_from, wait_final
from tests.scans import id_card_pdf
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services, record_key


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_passes_then_names_each_altered_artifact(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    env = embedded_env(tmp_path)
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    worker = start_worker(env)
    data, _truth = id_card_pdf(seed=7)
    ing = ingest_bytes(services, "cccd.pdf", data)
    wait_final(services, [ing.document_id], worker=worker)
    with services.sessions() as s:
        row = s.scalar(select(RecordRow).where(RecordRow.document_id == ing.document_id))
        key = create_key(s, "checker", ["records:read"])
    assert row is not None
    code = row.record_code
    objects = Path(services.store.url.removeprefix("file://"))

    # What was published: a signed manifest over every artifact, a PAdES-signed PDF.
    assert row.artifacts["manifest"] == record_key(code, "manifest.json", 1)
    assert row.record_code.split(".")[0] not in row.artifacts["manifest"]
    stored = json.loads(services.store.get(row.artifacts["manifest"]))
    assert stored["sha256"]["original"] == row.body["sha256"]
    assert stored["agency_code"] == settings.agency_code
    assert (settings.resolved_data_dir / "keys" / f"development-{settings.agency_code}").is_dir()

    api = TestClient(create_app(services))
    headers = {"X-API-Key": key}

    def verify() -> dict[str, bool]:
        resp = api.get(f"/api/v1/records/{code}/verify", headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        checks = {c["name"]: c["ok"] for c in body["checks"]}
        assert body["ok"] == all(checks.values())
        return checks

    first = verify()
    assert all(first.values()), first
    assert set(first) == {
        "manifest",
        "manifest_signature",
        "original",
        "pdf",
        "text",
        "json",
        "fields",
        "database",
        "pdf_signature",
    }

    pdf = objects / row.artifacts["pdf"]
    pristine = pdf.read_bytes()
    _flip(pdf, len(pristine) // 3)
    assert {k for k, ok in verify().items() if not ok} == {"pdf", "pdf_signature"}
    pdf.write_bytes(pristine)

    _flip(objects / row.artifacts["text"], 0)
    assert {k for k, ok in verify().items() if not ok} == {"text"}

    _flip(objects / row.artifacts["original"], 100)
    assert {k for k, ok in verify().items() if not ok} == {"text", "original"}

    # A field changed in the database (not in storage) is caught too.
    with services.sessions() as s:
        db_row = s.get(RecordRow, row.id)
        assert db_row is not None
        fields = dict(db_row.body["fields"])
        fields["personal_id"] = {"value": "001099012345", "confidence": 1.0}
        db_row.body = {**db_row.body, "fields": fields}
        s.commit()
    assert {k for k, ok in verify().items() if not ok} == {"text", "original", "database"}

    # A re-signed manifest needs the agency's key: one written by anybody else fails.
    manifest_path = objects / row.artifacts["manifest"]
    forged = json.loads(manifest_path.read_bytes())
    forged["sha256"]["original"] = signing.sha256_hex(
        (objects / row.artifacts["original"]).read_bytes()
    )
    manifest_path.write_bytes(json.dumps(forged).encode())
    failed = {k for k, ok in verify().items() if not ok}
    assert "manifest_signature" in failed and "original" not in failed
