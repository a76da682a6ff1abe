"""Monitoring with real workers: event metrics (Redis), the database collector, the admin API.

Celery sends no events over the embedded default's SQL broker, so the event receiver
runs against Redis (its own database number, so other runs' events stay out); the
dashboard data, `/metrics`, retries and originals run on the embedded default.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, update

from api.app import create_app
from api.keys import create_key
from schemas.db import AuditEntry, Document, DocumentStatus
from schemas.monitoring import StageRun, WorkerBeat
from tests import badfiles
from tests.conftest import (
    REDIS_URL,
    ROOT,
    WorkerProcess,
    embedded_env,
    free_port,
    settings_from,
    wait_final,
)
from workers import monitor
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services

#: A Redis database of this file's own: the event exchange is shared by everyone on one.
EVENTS_REDIS = REDIS_URL + "/11"


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def queue() -> str:
    return f"sohoa-metrics-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def event_monitor(queue: str) -> Iterator[tuple[monitor.EventMetrics, CollectorRegistry]]:
    """EventMetrics receiving in a thread, as `sohoa monitor` runs it (started per test).

    Filtered by this run's queue: other runs of this file on the same Redis (other
    checkouts, CI) send their events to the same exchange.
    """
    registry = CollectorRegistry()
    metrics = monitor.EventMetrics(registry, queue=queue)
    stop = threading.Event()
    holder: dict[str, threading.Thread] = {}

    def start() -> None:
        holder["t"] = threading.Thread(target=metrics.capture, args=(stop,), daemon=True)
        holder["t"].start()

    metrics.start = start  # type: ignore[attr-defined]
    yield metrics, registry
    stop.set()
    if "t" in holder:
        holder["t"].join(timeout=10)


def test_events_and_database_feed_the_metrics(
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    event_monitor: tuple[monitor.EventMetrics, CollectorRegistry],
    queue: str,
) -> None:
    env = {**embedded_env(tmp_path), "SOHOA_BROKER_URL": EVENTS_REDIS, "SOHOA_QUEUE": queue}
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    metrics, registry = event_monitor
    registry.register(monitor.DbCollector(services.sessions, settings))
    metrics.start()  # type: ignore[attr-defined]
    worker = start_worker(env)
    # The receiver's queue exists once it hears the worker: nothing sent before is lost.
    _until(lambda: metrics.workers_online() >= 1 or not worker.alive(), 60, "a heartbeat")
    assert worker.alive(), worker.output()[-3000:]

    name, bad, code = badfiles.bad_inputs()[0]
    before = _value(registry, "sohoa_rejected_inputs_total", error_code=code)
    good = ingest_bytes(services, "two-pages.pdf", badfiles.small_pdf(2))
    rejected = ingest_bytes(services, name, bad)
    assert rejected.error is not None and rejected.error.code == code
    statuses = wait_final(services, [good.document_id], timeout=120, worker=worker)
    assert statuses[good.document_id] in ("ready", "needs_review"), statuses

    def settled() -> bool:
        return (
            _value(registry, "sohoa_tasks_total", stage="finish", outcome="succeeded") >= 1
            and sum(_value(registry, "sohoa_tasks_queued", stage=s) for s in monitor.STAGES) == 0
            and sum(_value(registry, "sohoa_tasks_running", stage=s) for s in monitor.STAGES) == 0
        )

    try:
        _until(settled, 30, "the finish event and empty queues")
    except AssertionError:
        samples = [
            f"{s.name}{s.labels}={s.value}"
            for fam in registry.collect()
            if fam.name.startswith(("sohoa_tasks", "sohoa_monitor"))
            for s in fam.samples
            if s.value
        ]
        raise AssertionError("\n".join(samples) + "\n" + worker.output()[-3000:]) from None
    assert _value(registry, "sohoa_tasks_total", stage="ocr_page", outcome="succeeded") >= 2
    assert _value(registry, "sohoa_tasks_sent_total", stage="ocr_page") >= 2
    assert _value(registry, "sohoa_tasks_total", stage="rasterise", outcome="succeeded") >= 1
    up = [s for f in registry.collect() if f.name == "sohoa_celery_worker_up" for s in f.samples]
    assert any(s.value == 1 for s in up)
    assert _value(registry, "sohoa_task_duration_seconds_count", stage="ocr_page") >= 2
    assert _value(registry, "sohoa_task_duration_seconds_sum", stage="ocr_page") > 0
    assert _value(registry, "sohoa_task_wait_seconds_count", stage="ocr_page") >= 2

    # From the database, at scrape time.
    assert _value(registry, "sohoa_database_up") == 1
    assert _value(registry, "sohoa_rejected_inputs_total", error_code=code) == before + 1
    for stage in monitor.STAGES:
        assert _value(registry, "sohoa_queue_depth", stage=stage) == 0, stage
    assert _value(registry, "sohoa_broker_queue_messages", queue=settings.queue) == 0
    assert _value(registry, "sohoa_pages_done_total") >= 2
    assert _value(registry, "sohoa_ocr_confidence_count") >= 2
    assert _value(registry, "sohoa_ocr_confidence_bucket", le="+Inf") >= 2
    assert _value(registry, "sohoa_documents", status=statuses[good.document_id]) == 1
    _until(lambda: _value(registry, "sohoa_workers_online") >= 1, 20, "a heartbeat row")
    with services.sessions() as s:
        stages = set(s.scalars(select(StageRun.stage).where(StageRun.outcome == "succeeded")))
    assert {"rasterise", "ocr_page"} <= stages


def test_error_codes_of_failed_events() -> None:
    assert monitor.error_code_of("PageTimeout('A page took longer')") == "page_timeout"
    assert monitor.error_code_of("WorkerLostError('x')") == "internal_error"
    assert monitor.error_code_of(None) == "internal_error"


@pytest.fixture
def embedded(tmp_path: Path) -> tuple[dict[str, str], Services]:
    env = embedded_env(tmp_path)
    settings = settings_from(env)
    configure(settings)
    return env, Services.from_settings(settings)


def _key(services: Services, *scopes: str) -> dict[str, str]:
    with services.sessions() as s:
        return {"X-API-Key": create_key(s, "metrics-test", list(scopes))}


def test_admin_api_on_the_embedded_default(
    embedded: tuple[dict[str, str], Services], start_worker: Callable[..., WorkerProcess]
) -> None:
    env, services = embedded
    admin = _key(services, "admin")
    reader = _key(services, "records:read")
    personal = _key(services, "records:read_personal")
    worker = start_worker(env)
    data = badfiles.small_pdf(2)
    good = ingest_bytes(services, "two-pages.pdf", data)
    name, bad, code = badfiles.bad_inputs()[1]
    rejected = ingest_bytes(services, name, bad)

    with TestClient(create_app(services)) as client:
        # Boundaries: no key 401, a key without admin 403; /metrics takes a Bearer token too.
        for url in ("/metrics", "/api/v1/admin/overview", "/api/v1/admin/failures"):
            assert client.get(url).status_code == 401, url
            assert client.get(url, headers=reader).status_code == 403, url
        post = f"/api/v1/admin/documents/{good.document_id}/retry"
        assert client.post(post).status_code == 401
        assert client.post(post, headers=reader).status_code == 403
        bearer = {"Authorization": "Bearer " + admin["X-API-Key"]}
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        original = f"/api/v1/documents/{good.document_id}/original"
        assert client.get(original, headers=reader).status_code == 403

        statuses = wait_final(services, [good.document_id], timeout=120, worker=worker)
        assert statuses[good.document_id] in ("ready", "needs_review")

        text = client.get("/metrics", headers=bearer)
        assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
        assert f'sohoa_rejected_inputs_total{{error_code="{code}"}} 1.0' in text.text
        assert 'sohoa_queue_depth{stage="ocr_page"} 0.0' in text.text
        assert "two-pages" not in text.text and name not in text.text  # no file names

        def overview() -> dict:  # type: ignore[type-arg]
            resp = client.get("/api/v1/admin/overview", headers=admin)
            assert resp.status_code == 200, resp.text
            return resp.json()  # type: ignore[no-any-return]

        _until(
            lambda: (
                any(w["online"] for w in overview()["workers"])
                and overview()["stage_seconds"]["finish"]["p50"] is not None
            ),
            30,
            "a worker online and a finish timed",
        )
        body = overview()
        assert set(body) == {"queues", "pages_per_minute", "stage_seconds", "workers"}
        assert body["queues"] == dict.fromkeys(monitor.STAGES, 0)
        assert len(body["pages_per_minute"]) == 60
        assert sum(p["pages"] for p in body["pages_per_minute"]) == 2
        assert set(body["pages_per_minute"][0]) == {"minute", "pages"}
        assert set(body["stage_seconds"]) == set(monitor.STAGES)
        ocr = body["stage_seconds"]["ocr_page"]
        assert 0 < ocr["p50"] <= ocr["p95"]
        assert body["stage_seconds"]["deliver_webhook"] == {"p50": None, "p95": None}
        w = body["workers"][0]
        assert set(w) == {"name", "online", "last_seen"} and w["online"] is True

        # A rejected input is listed and is permanent; a failure goes back to received.
        failures = client.get("/api/v1/admin/failures", headers=admin).json()["documents"]
        assert [(d["id"], d["status"], d["error_code"]) for d in failures] == [
            (rejected.document_id, "rejected", code)
        ]
        resp = client.post(f"/api/v1/admin/documents/{rejected.document_id}/retry", headers=admin)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_retryable"
        assert client.post(post, headers=admin).status_code == 409  # finished: nothing to retry
        assert client.post("/api/v1/admin/documents/nope/retry", headers=admin).status_code == 404

        with services.sessions() as s:
            s.execute(
                update(Document)
                .where(Document.id == good.document_id)
                .values(status=DocumentStatus.failed, error_code="ocr_failed", error_message="x")
            )
            s.commit()
        failures = client.get("/api/v1/admin/failures?limit=1", headers=admin).json()["documents"]
        assert [(d["id"], d["error_code"]) for d in failures] == [(good.document_id, "ocr_failed")]
        with services.sessions() as s:
            audited = s.scalar(select(func.count()).select_from(AuditEntry))
        resp = client.post(post, headers=admin)
        assert resp.status_code == 202, resp.text
        assert resp.json() == {"id": good.document_id, "status": "received"}
        with services.sessions() as s:
            doc = s.get(Document, good.document_id)
            assert doc is not None and doc.error_code is None and doc.finished_at is None
            assert s.scalar(select(func.count()).select_from(AuditEntry)) == audited + 1
        # The worker takes it again (its pages are already read) and finishes it.
        statuses = wait_final(services, [good.document_id], timeout=60, worker=worker)
        assert statuses[good.document_id] in ("ready", "needs_review")

        # The original, for the admin to look at: audited, byte for byte.
        resp = client.get(original, headers=personal)
        assert resp.status_code == 200 and resp.content == data
        assert client.get("/api/v1/documents/nope/original", headers=personal).status_code == 404

    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(WorkerBeat)) == 1
    worker.stop()
    with services.sessions() as s:
        beat = s.scalars(select(WorkerBeat)).one()
        assert beat.stopped_at is not None  # a clean stop says so at once


def test_sohoa_monitor_serves_metrics_over_http(tmp_path: Path) -> None:
    """The command on the embedded default: no events there, the database metrics still."""
    port = free_port()
    env = {**embedded_env(tmp_path), "PYTHONUNBUFFERED": "1"}
    log = (tmp_path / "monitor.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "monitor", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert body, (tmp_path / "monitor.log").read_text()
        assert 'sohoa_queue_depth{stage="rasterise"} 0.0' in body
        assert 'sohoa_tasks_total{outcome="succeeded",stage="ocr_page"} 0.0' in body
        assert "sohoa_ocr_confidence_bucket" in body
        assert "sohoa_database_up 1.0" in body
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
