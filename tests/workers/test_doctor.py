"""`sohoa doctor` (issue 6): orphans both ways and altered artifacts are found, repairs are
idempotent and never delete an original; on the embedded default and on S3."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from api.cli import app
from pipeline import signing
from pipeline.intake import sha256_of
from pipeline.process import ProcessOptions, process_file, record_archive_pdf
from pipeline.types import Limits
from schemas.db import Document, DocumentStatus, RecordRow
from tests import badfiles
from tests.conftest import embedded_env, settings_from
from workers import doctor, lifecycle
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services, original_key


def _publish(services: Services, text: str) -> tuple[str, int]:
    """Ingest a small scan and publish its record as the worker's finish task would."""
    data = badfiles.scan_png(text)
    ing = ingest_bytes(services, "scan.png", data, enqueue=False)
    done = process_file(
        source=ing.source,
        data=data,
        document_id=ing.document_id,
        options=ProcessOptions(limits=Limits(), dpi=150),
    )
    (rec,) = done.records
    keys = signing.AgencyKeys.from_settings(services.settings)
    with services.sessions() as s:
        plan = lifecycle.plan_digitised(
            s, rec, agency_code=services.settings.agency_code, auto_publish=True, planned_keys=set()
        )
    lifecycle.seal_planned(services.store, plan, record_archive_pdf(plan.record, done.pages), keys)
    with services.sessions() as s:
        row = lifecycle.save_digitised(
            s, plan, document_id=ing.document_id, first_page=1, dossier=None
        )
        s.execute(
            update(Document)
            .where(Document.id == ing.document_id)
            .values(status=DocumentStatus.ready, page_count=1, pages_done=1)
        )
        s.commit()
        return ing.document_id, row.id


def _state(services: Services) -> tuple[list[tuple[str, str, str | None]], dict[str, str]]:
    """Every row's (id, status, error) and every object's hash: what a repair may change."""
    with services.sessions() as s:
        rows = sorted(s.execute(select(Document.id, Document.status, Document.error_code)))
    objects = {k: sha256_of(services.store.get(k)) for k in services.store.list()}
    return [tuple(r) for r in rows], objects  # type: ignore[misc]


@pytest.fixture(params=["embedded", "s3"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    env = embedded_env(tmp_path)
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        env |= {
            "SOHOA_STORAGE_URL": f"s3://doctor-{uuid.uuid4().hex[:8]}",
            "SOHOA_S3_ENDPOINT": endpoint,
            "SOHOA_S3_ACCESS_KEY": "testing",
            "SOHOA_S3_SECRET_KEY": "testing",
        }
    return env


def test_doctor_finds_and_repairs(env: dict[str, str]) -> None:
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    store = services.store

    healthy_doc, healthy_row = _publish(services, "Giay to lanh\nTrang 1")
    altered_doc, altered_row = _publish(services, "Giay to bi sua\nTrang 1")
    # An original stored by an intake that crashed before its row.
    orphan = badfiles.scan_png("Mo coi\nTrang 1")
    store.put(original_key(sha256_of(orphan)), orphan)
    # An orphan whose bytes no longer match their address: reported, never ingested.
    bad_sha = sha256_of(b"what was stored")
    store.put(original_key(bad_sha), b"what the disk now holds")
    # A row whose original is gone.
    lost = ingest_bytes(services, "lost.png", badfiles.scan_png("Mat\nTrang 1"), enqueue=False)
    store.delete(original_key(lost.sha256))
    # One flipped byte in a published record's text.
    with services.sessions() as s:
        text_key = s.get(RecordRow, altered_row).artifacts["text"]  # type: ignore[union-attr]
    text = bytearray(store.get(text_key))
    text[0] ^= 0x01
    store.put(text_key, bytes(text))
    # A document whose original was altered in place.
    swapped = ingest_bytes(services, "swap.png", badfiles.scan_png("Doi\nTrang 1"), enqueue=False)
    store.put(original_key(swapped.sha256), b"not the scan that was ingested")
    with services.sessions() as s:
        before_rows = s.scalar(select(func.count()).select_from(Document))

    # Looking changes nothing.
    found = doctor.find_orphans(services)
    kinds = sorted((p.kind, p.subject) for p in found.problems)
    assert kinds == sorted(
        [
            ("orphan_original", original_key(sha256_of(orphan))),
            ("orphan_original", original_key(bad_sha)),
            ("original_missing", f"document {lost.document_id}"),
        ]
    )
    assert not found.ok and not any(p.resolved for p in found.problems)
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == before_rows

    checked = doctor.rehash(services)
    by_subject = {p.subject: p for p in checked.problems}
    assert set(by_subject) == {f"record {altered_row}", original_key(swapped.sha256)}
    assert "text: SHA-256 differs" in by_subject[f"record {altered_row}"].detail
    assert by_subject[original_key(swapped.sha256)].kind == "original_corrupt"
    assert checked.checked["records_rehashed"] == 2
    # No record code (it carries the citizen's ID) in any report.
    with services.sessions() as s:
        codes = list(s.scalars(select(RecordRow.record_code)))
    assert not any(code in json.dumps(checked.to_dict()) for code in codes)
    # A sample checks fewer, at random.
    assert doctor.rehash(services, sample=1, seed=1).checked == {
        "originals_rehashed": 1,
        "records_rehashed": 1,
    }

    repaired = doctor.find_orphans(services, repair=True)
    result = {p.subject: p for p in repaired.problems}
    assert result[original_key(sha256_of(orphan))].resolved
    assert result[original_key(bad_sha)].kind == "original_corrupt"
    assert not result[original_key(bad_sha)].resolved
    assert result[f"document {lost.document_id}"].resolved
    assert not repaired.ok  # the corrupt orphan is left for a person
    with services.sessions() as s:
        recovered = s.scalars(select(Document).where(Document.sha256 == sha256_of(orphan))).one()
        gone = s.get(Document, lost.document_id)
    assert recovered.source.startswith("recovered-")
    assert recovered.status == DocumentStatus.received and recovered.page_count == 1
    assert gone is not None
    assert (gone.status, gone.error_code) == ("failed", "object_missing")
    # Originals are never deleted, the corrupt orphan included.
    assert store.get(original_key(bad_sha)) == b"what the disk now holds"
    assert store.get(original_key(sha256_of(orphan))) == orphan

    # Twice: nothing changes, the known loss stays listed (resolved), the corrupt orphan too.
    snapshot = _state(services)
    again = doctor.find_orphans(services, repair=True)
    assert _state(services) == snapshot
    assert sorted((p.kind, p.resolved) for p in again.problems) == [
        ("original_corrupt", False),
        ("original_missing", True),
    ]
    assert doctor.rehash(services).checked["records_rehashed"] == 2
    assert healthy_doc and healthy_row and altered_doc


def test_doctor_command(env: dict[str, str]) -> None:
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    _doc, row_id = _publish(services, "Lenh doctor\nTrang 1")
    runner = CliRunner()
    clean = runner.invoke(app, ["doctor", "--rehash", "--json"], env=env)
    assert clean.exit_code == 0, clean.output
    body = json.loads(clean.stdout)
    assert body["ok"] and body["problems"] == []
    assert body["checked"]["records_rehashed"] == 1

    orphan = badfiles.scan_png("Lenh doctor mo coi\nTrang 1")
    services.store.put(original_key(sha256_of(orphan)), orphan)
    with services.sessions() as s:
        pdf_key = s.get(RecordRow, row_id).artifacts["pdf"]  # type: ignore[union-attr]
    pdf = bytearray(services.store.get(pdf_key))
    pdf[len(pdf) // 2] ^= 0x01
    services.store.put(pdf_key, bytes(pdf))

    found = runner.invoke(app, ["doctor", "--rehash"], env=env)
    assert found.exit_code == 1
    assert "orphan_original" in found.stdout and "record_artifact" in found.stdout
    fixed = runner.invoke(app, ["doctor", "--repair", "--json"], env=env)
    assert fixed.exit_code == 0, fixed.output  # the orphan is re-ingested; no rehash asked
    assert [p["kind"] for p in json.loads(fixed.stdout)["problems"]] == ["orphan_original"]
    still = runner.invoke(app, ["doctor", "--repair", "--rehash", "--json"], env=env)
    assert still.exit_code == 1  # the altered PDF cannot be repaired, only reported
    (problem,) = json.loads(still.stdout)["problems"]
    assert problem["kind"] == "record_artifact" and "pdf" in problem["detail"]


def test_periodic_sanity_check_reports_an_altered_artifact(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The beat-scheduled task re-hashes what is stored and logs each problem (no personal data)."""
    from workers.tasks import sanity_check

    settings = settings_from(embedded_env(tmp_path))
    configure(settings)
    services = Services.from_settings(settings)
    _doc_id, row_id = _publish(services, "GIẤY KHAI SINH")
    assert sanity_check.run(sample=None) == 0
    with services.sessions() as s:
        row = s.get(RecordRow, row_id)
        assert row is not None
        key = row.artifacts["text"]
        code = row.record_code
    services.store.put(key, services.store.get(key) + b" ")
    with caplog.at_level("ERROR", logger="workers.tasks"):
        assert sanity_check.run(sample=None) >= 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "sanity check: record_artifact" in logged
    assert code not in logged and code.split(".")[0] not in logged


def test_start_up_check_reports_originals_without_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What a worker runs when it starts: a crash between the two intake writes is reported."""
    from workers.tasks import orphan_check

    settings = settings_from(embedded_env(tmp_path))
    configure(settings)
    services = Services.from_settings(settings)
    assert orphan_check.run() == 0
    data = badfiles.scan_png("TỜ KHAI")
    services.store.put(original_key(sha256_of(data)), data)  # the row never came
    with caplog.at_level("WARNING", logger="workers.tasks"):
        assert orphan_check.run() == 1
    assert "start-up check: orphan_original" in caplog.text
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0, "report only"
