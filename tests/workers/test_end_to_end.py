"""The whole path with a real worker process: embedded default, Redis, RabbitMQ.

Each run ingests a real scan, waits for the worker, then checks the database,
the stored artifacts (by SHA-256) and the API's answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pikepdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.keys import create_key
from schemas.db import Document, RecordRow
from schemas.record import Record
from tests import badfiles
from tests.conftest import (
    AMQP_URL,
    REDIS_URL,
    WorkerProcess,
    embedded_env,
    service_env,
    settings_from,
    wait_final,
)
from tests.scans import id_card_pdf
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services, original_key, record_key

DOSSIER = "000.00.00.H55-251125-0001"


def _run_id_card(
    env: dict[str, str], start_worker: Callable[..., WorkerProcess], seed: int
) -> tuple[Services, Record, WorkerProcess]:
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    worker = start_worker(env)
    data, truth = id_card_pdf(seed)
    ing = ingest_bytes(services, "cccd.pdf", data, DOSSIER)
    assert ing.error is None
    statuses = wait_final(services, [ing.document_id], worker=worker)
    assert statuses[ing.document_id] in ("ready", "needs_review"), statuses

    with services.sessions() as s:
        rows = list(s.scalars(select(RecordRow).where(RecordRow.document_id == ing.document_id)))
        doc = s.get(Document, ing.document_id)
    assert doc is not None and doc.pages_done == doc.page_count == 2
    assert len(rows) == 1, [r.record_code for r in rows]
    record = Record.model_validate(rows[0].body)
    assert record.doc_type == "citizen_id_card"
    assert record.pages == [1, 2]
    assert record.dossier_code == DOSSIER
    assert record.fields["personal_id"].value == truth["personal_id"]
    assert record.sha256 == hashlib.sha256(data).hexdigest()

    # Artifacts are in the store, the original byte for byte.
    assert hashlib.sha256(services.store.get(original_key(record.sha256))).hexdigest() == (
        record.sha256
    )
    artifacts = rows[0].artifacts
    pdf_bytes = services.store.get(artifacts["pdf"])
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        assert len(pdf.pages) == 2
        assert pdf.open_metadata().pdfa_status == "2B"
    layer = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf_bytes, capture_output=True, check=True
    ).stdout.decode()
    assert truth["personal_id"] in layer
    assert [q.page for q in record.quality] == [1, 2]
    assert all(len(services.store.get(k)) > 100 for k in artifacts["hocr"])
    stored = json.loads(services.store.get(artifacts["json"]))
    assert stored["record_code"] == record.record_code
    assert truth["personal_id"] in services.store.get(artifacts["text"]).decode()

    # And the API serves it.
    with services.sessions() as s:
        key = create_key(s, "portal", ["records:read_personal"])
    api = TestClient(create_app(services))
    headers = {"X-API-Key": key}
    got = api.get(f"/api/v1/records/{record.record_code}", headers=headers)
    assert got.status_code == 200
    assert got.json()["fields"]["personal_id"]["value"] == truth["personal_id"]
    found = api.get(
        "/api/v1/records", params={"personal_id": truth["personal_id"]}, headers=headers
    ).json()["records"]
    assert [r["record_code"] for r in found] == [record.record_code]
    original = api.get(f"/api/v1/records/{record.record_code}/files/original", headers=headers)
    assert hashlib.sha256(original.content).hexdigest() == record.sha256
    pdf = api.get(f"/api/v1/records/{record.record_code}/files/pdf", headers=headers)
    assert pdf.headers["content-type"] == "application/pdf"
    return services, record, worker


def test_embedded_default(tmp_path: Path, start_worker: Callable[..., WorkerProcess]) -> None:
    """SQLite, a folder of objects and the server-less SQLite broker: nothing else running."""
    env = embedded_env(tmp_path)
    services, record, _ = _run_id_card(env, start_worker, seed=101)
    assert services.settings.db_url.startswith("sqlite")
    assert services.settings.celery_broker_url.startswith("sqla+sqlite")
    objects = Path(services.store.url.removeprefix("file://"))
    assert (objects / "originals" / record.sha256).is_file()


def _check_bucket(services: Services, record: Record) -> None:
    from pipeline.storage import S3Store

    store = services.store
    assert isinstance(store, S3Store)
    obj = store.client.get_object(store.bucket, f"originals/{record.sha256}")
    assert hashlib.sha256(obj.read()).hexdigest() == record.sha256
    names = {o.object_name for o in store.client.list_objects(store.bucket, recursive=True)}
    assert record_key(record.record_code, "archive.pdf", 1) in names


def test_redis_postgres_s3(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess], pg_url: str, s3_endpoint: str
) -> None:
    env = service_env(tmp_path, broker=REDIS_URL + "/0", database=pg_url, s3_endpoint=s3_endpoint)
    services, record, _ = _run_id_card(env, start_worker, seed=102)
    assert services.settings.db_url.startswith("postgresql")
    _check_bucket(services, record)


def test_rabbitmq_postgres_s3(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess], pg_url: str, s3_endpoint: str
) -> None:
    env = service_env(tmp_path, broker=AMQP_URL, database=pg_url, s3_endpoint=s3_endpoint)
    services, record, _ = _run_id_card(env, start_worker, seed=103)
    _check_bucket(services, record)


@pytest.mark.parametrize("broker", ["redis", "embedded"])
def test_worker_survives_bad_input(
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    pg_url: str,
    s3_endpoint: str,
    broker: str,
) -> None:
    """Bad files sent straight to the worker (as if they slipped past intake) are rejected
    with their own code, their originals stay stored, and the worker keeps working."""
    from workers.tasks import rasterise_document

    if broker == "redis":
        env = service_env(
            tmp_path, broker=REDIS_URL + "/0", database=pg_url, s3_endpoint=s3_endpoint
        )
    else:
        env = embedded_env(tmp_path)
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    worker = start_worker(env)
    expected = {}
    for name, data, code in badfiles.bad_inputs():
        sha = hashlib.sha256(data).hexdigest()
        services.store.put(original_key(sha), data)
        with services.sessions() as s:
            doc = Document(sha256=sha, source=name, size=len(data))
            s.add(doc)
            s.commit()
            expected[doc.id] = code
        rasterise_document.delay(doc.id)
    wait_final(services, list(expected), worker=worker)
    with services.sessions() as s:
        for doc_id, code in expected.items():
            doc = s.get(Document, doc_id)
            assert doc is not None
            assert (doc.status, doc.error_code) == ("rejected", code)
            assert services.store.exists(original_key(doc.sha256))
    assert worker.alive()
    # Still working: a good scan goes through after the bad ones.
    data, _ = id_card_pdf()
    ing = ingest_bytes(services, "after.pdf", data)
    assert wait_final(services, [ing.document_id], worker=worker)[ing.document_id] in (
        "ready",
        "needs_review",
    )
