"""Services that go away in the middle of a batch and come back: nothing lost, nothing twice.

Brokers are private servers the test stops and starts for real (a redis-server with an
append-only file, a RabbitMQ node of its own); PostgreSQL and S3 sit behind a TCP proxy
that the test cuts (open connections reset, new ones refused) and then restores.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REDIS_URL, ROOT, WorkerProcess, wait_final
from tests.faults.conftest import (
    Env,
    RabbitNode,
    batch_files,
    make_env,
    stop_now,
    through,
)
from tests.faults.netfaults import RedisServer, TcpProxy
from workers.ingest import ingest_bytes
from workers.services import original_key


def _mid_batch(e: Env, ids: list[str]) -> None:
    """Wait until the batch is under way: a page done and another being read."""
    e.wait(lambda: e.progress(ids)[0] >= 1, timeout=90, what="the first page")


def _outage(
    seconds: float, stop: Callable[[], None], start: Callable[[], None], worker: WorkerProcess
) -> None:
    stop()
    try:
        time.sleep(seconds)
        assert worker.alive(), "the worker died during the outage:\n" + worker.output()[-3000:]
    finally:
        start()


def _batch_through_outage(
    e: Env,
    start_worker: Callable[..., WorkerProcess],
    seed: int,
    seconds: float,
    stop: Callable[[], None],
    start: Callable[[], None],
    timeout: float,
) -> WorkerProcess:
    """A worker reads a small batch; the component is down for `seconds` mid-batch; then
    every document ends ready with one record each and nothing is lost."""
    worker = start_worker(e.env)
    files = batch_files(seed, cards=1, certificates=1)
    ids = e.ingest(files)
    _mid_batch(e, ids)
    _outage(seconds, stop, start, worker)
    wait_final(e.services, ids, timeout=timeout, worker=worker)
    e.check_nothing_lost(ids, files, once=False)
    stop_now(worker)
    return worker


def test_redis_stopped_20s(
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    empty_pg_url: str,
    s3_endpoint: str,
    redis_server: RedisServer,
) -> None:
    e = make_env(tmp_path, broker=redis_server.url, database=empty_pg_url, s3=s3_endpoint)
    _batch_through_outage(e, start_worker, 401, 20, redis_server.stop, redis_server.start, 150)


def test_rabbitmq_stopped_20s(
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    empty_pg_url: str,
    s3_endpoint: str,
    rabbit_node: RabbitNode,
) -> None:
    e = make_env(tmp_path, broker=rabbit_node.url, database=empty_pg_url, s3=s3_endpoint)
    _batch_through_outage(e, start_worker, 411, 20, rabbit_node.stop, rabbit_node.start, 150)


def test_s3_unreachable_30s(
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    empty_pg_url: str,
    s3_endpoint: str,
    s3_proxy: TcpProxy,
) -> None:
    e = make_env(
        tmp_path,
        broker=REDIS_URL + "/0",
        database=empty_pg_url,
        s3=s3_endpoint,
        worker_s3=s3_proxy.address,
    )
    worker = _batch_through_outage(e, start_worker, 421, 30, s3_proxy.cut, s3_proxy.restore, 180)
    assert "storage_unavailable: retry in" in worker.output()


def test_postgres_unreachable_30s(
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    empty_pg_url: str,
    s3_endpoint: str,
    pg_proxy: TcpProxy,
) -> None:
    e = make_env(
        tmp_path,
        broker=REDIS_URL + "/0",
        database=empty_pg_url,
        s3=s3_endpoint,
        worker_database=through(empty_pg_url, pg_proxy),
    )
    worker = _batch_through_outage(e, start_worker, 431, 30, pg_proxy.cut, pg_proxy.restore, 180)
    assert "database_unavailable: retry in" in worker.output()


def test_broker_down_at_ingest_then_sohoa_retry(
    tmp_path: Path,
    start_worker: Callable[..., WorkerProcess],
    empty_pg_url: str,
    s3_endpoint: str,
    redis_server: RedisServer,
) -> None:
    """Ingest while the broker is down: the original and its row are kept (received), and
    `sohoa retry --document` queues it once the broker is back."""
    from sqlalchemy import select

    from schemas.db import Document

    e = make_env(tmp_path, broker=redis_server.url, database=empty_pg_url, s3=s3_endpoint)
    [(name, data)] = batch_files(441, cards=0, certificates=1)
    redis_server.stop()
    try:
        ing = ingest_bytes(e.services, name, data)
        assert ing.error is None and ing.status == "received"
        assert ing.queued is False, "the broker was down: stored, to be queued later"
    finally:
        redis_server.start()
    sha = hashlib.sha256(data).hexdigest()
    with e.services.sessions() as s:
        doc = s.scalar(select(Document).where(Document.sha256 == sha))
    assert doc is not None and doc.status == "received"
    assert e.services.store.exists(original_key(sha))
    worker = start_worker(e.env)
    cli = subprocess.run(
        [sys.executable, "-m", "api.cli", "retry", "--document", doc.id],
        env={**os.environ, **e.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.split() == [doc.id, "queued"]
    wait_final(e.services, [doc.id], timeout=60, worker=worker)
    e.check_nothing_lost([doc.id], [(name, data)])
    stop_now(worker)
