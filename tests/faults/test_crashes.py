"""Workers that die, pages that kill them, pages that take too long, two workers at once.

Real worker processes on real Redis/RabbitMQ, PostgreSQL and S3 (moto's server);
faults are real signals. Each test checks the database and the store afterwards.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from schemas.db import Document, Page
from tests.conftest import AMQP_URL, REDIS_URL, WorkerProcess, wait_final
from tests.faults.conftest import (
    batch_files,
    kill_children,
    make_env,
    pool_children,
    stop_now,
    tiny_png,
)


def test_kill_pool_process_mid_page(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess], empty_pg_url: str, s3_endpoint: str
) -> None:
    """kill -9 the processes OCRing pages: their tasks come back at once and finish."""
    e = make_env(tmp_path, broker=REDIS_URL + "/0", database=empty_pg_url, s3=s3_endpoint)
    e.enable_versioning()
    worker = start_worker(e.env)
    files = batch_files(301, certificates=1)
    ids = e.ingest(files)
    e.wait(lambda: e.progress(ids)[1] > 0, what="a page in progress")
    assert kill_children(worker.proc.pid)
    wait_final(e.services, ids, timeout=120, worker=worker)
    e.check_nothing_lost(ids, files)
    with e.services.sessions() as s:
        attempts = list(s.scalars(select(Page.attempts).where(Page.document_id.in_(ids))))
    assert max(attempts) == 2, attempts  # the killed start counted, the redelivery finished
    stop_now(worker)


def test_poison_page_is_quarantined(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess], empty_pg_url: str, s3_endpoint: str
) -> None:
    """A page whose worker dies three times is quarantined on its fourth start; the file is
    rejected with poison_page, its original kept, and the worker goes on with other files."""
    e = make_env(tmp_path, broker=REDIS_URL + "/0", database=empty_pg_url, s3=s3_endpoint)
    worker = start_worker(e.env, concurrency=1)
    (name, data) = batch_files(321, cards=0, certificates=1)[0]
    [doc_id] = e.ingest([(name, data)])

    def attempts() -> int:
        with e.services.sessions() as s:
            page = s.scalar(select(Page).where(Page.document_id == doc_id))
            return page.attempts if page is not None and page.status == "pending" else 0

    for crash in (1, 2, 3):
        e.wait(lambda crash=crash: attempts() == crash, what=f"start {crash}")  # type: ignore[misc]
        assert kill_children(worker.proc.pid)
    wait_final(e.services, [doc_id], timeout=60, worker=worker)
    with e.services.sessions() as s:
        doc = s.get(Document, doc_id)
        page = s.scalar(select(Page).where(Page.document_id == doc_id))
    assert doc is not None and page is not None
    assert (doc.status, doc.error_code) == ("rejected", "poison_page")
    assert (page.status, page.attempts) == ("poison", 4)
    assert e.services.store.exists(f"originals/{doc.sha256}")
    assert not e.services.store.list(f"pages/{doc_id}/")  # never completed
    later = e.ingest([("sau.png", tiny_png())])
    assert wait_final(e.services, later, timeout=60, worker=worker)[later[0]] in (
        "ready",
        "needs_review",
    )
    stop_now(worker)


def test_two_workers_one_killed(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess], empty_pg_url: str, s3_endpoint: str
) -> None:
    """Two workers on one queue and one batch; kill -9 one of them (main process and pool)
    while it reads a page. RabbitMQ hands its tasks to the other at once: every page is
    completed exactly once, one record per paper."""
    e = make_env(tmp_path, broker=AMQP_URL, database=empty_pg_url, s3=s3_endpoint)
    e.enable_versioning()
    workers = [start_worker(e.env, concurrency=1), start_worker(e.env, concurrency=1)]
    files = batch_files(331, cards=2, certificates=1)
    ids = e.ingest(files)
    e.wait(lambda: e.progress(ids)[1] >= 2, what="both workers reading a page")
    os.killpg(workers[0].proc.pid, signal.SIGKILL)
    workers[0].proc.wait()
    wait_final(e.services, ids, timeout=120, worker=workers[1])
    e.check_nothing_lost(ids, files)  # page results stored once each: none completed twice
    with e.services.sessions() as s:
        attempts = sorted(s.scalars(select(Page.attempts).where(Page.document_id.in_(ids))))
    assert attempts[0] == 1 and attempts[-1] <= 2, attempts
    assert "digitised" in workers[1].output()
    stop_now(*workers)


def _noise_png(width: int = 4200, height: int = 6000) -> bytes:
    """A page of random black and white dots: many seconds of preprocessing and OCR, on
    purpose, however fast the pipeline gets (a real page was only just over the limit, and
    at 2800 x 4000 the dots took 1.8 s once OCR ran in single-column mode)."""
    import io

    import numpy as np
    from PIL import Image

    dots = (np.random.default_rng(341).random((height, width)) > 0.5).astype(np.uint8) * 255
    buf = io.BytesIO()
    Image.fromarray(dots).save(buf, format="PNG")
    return buf.getvalue()


def test_page_time_limit(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess], empty_pg_url: str, s3_endpoint: str
) -> None:
    """A page over SOHOA_PAGE_TIMEOUT_S rejects its file with page_timeout, at the limit (not
    the hard kill), and a quick page in the same batch is still digitised."""
    e = make_env(
        tmp_path,
        broker=REDIS_URL + "/0",
        database=empty_pg_url,
        s3=s3_endpoint,
        SOHOA_PAGE_TIMEOUT_S="2",
    )
    worker = start_worker(e.env)
    slow = [("nhieu.png", _noise_png())]  # dense noise: far over 2 s on any machine
    ids = e.ingest([*slow, ("nhanh.png", tiny_png())])  # ~0.6 s
    statuses = wait_final(e.services, ids, timeout=60, worker=worker)
    with e.services.sessions() as s:
        doc = s.get(Document, ids[0])
        page = s.scalar(select(Page).where(Page.document_id == ids[0]))
    assert doc is not None and page is not None
    assert (doc.status, doc.error_code) == ("rejected", "page_timeout")
    assert page.status == "failed"
    assert doc.finished_at is not None and (doc.finished_at - doc.created_at).total_seconds() < 20
    assert statuses[ids[1]] in ("ready", "needs_review")
    assert worker.alive()
    stop_now(worker)


def test_hung_page_comes_back_after_the_hard_limit(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess], empty_pg_url: str, s3_endpoint: str
) -> None:
    """A pool process that stops answering mid-page (SIGSTOP: nothing in it runs, not even
    the page's own alarm) is killed at the hard time limit; Celery acknowledges that
    message, so the task publishes itself again and the page is read by a fresh process,
    well before the stalled-work sweep. The hang counts as one start."""
    e = make_env(
        tmp_path,
        broker=REDIS_URL + "/0",
        database=empty_pg_url,
        s3=s3_endpoint,
        SOHOA_PAGE_TIMEOUT_S="10",  # hard limit 10 + 30 s
    )
    worker = start_worker(e.env, concurrency=1)
    # A certificate page: seconds of work, so the stop lands while it is being read.
    [doc_id] = e.ingest(batch_files(331, cards=0, certificates=1))

    def started() -> bool:
        with e.services.sessions() as s:
            return bool(s.scalar(select(Page.attempts).where(Page.document_id == doc_id)))

    e.wait(started, what="the page's first start")
    children = pool_children(worker.proc.pid)
    assert children
    for child in children:
        os.kill(child, signal.SIGSTOP)
    statuses = wait_final(e.services, [doc_id], timeout=120, worker=worker)
    assert statuses[doc_id] in ("ready", "needs_review")
    with e.services.sessions() as s:
        page = s.scalar(select(Page).where(Page.document_id == doc_id))
    assert page is not None and (page.status, page.attempts) == ("done", 2)
    assert "hit its hard time limit: published again" in worker.output()
    stop_now(worker)
