"""Real services for the tests: PostgreSQL, Redis, RabbitMQ (started by .ci/run),
and an S3 endpoint (moto's server mode) that this suite starts on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from config.settings import Settings

PG_ADMIN_URL = os.environ.get("SOHOA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SOHOA_TEST_REDIS", "redis://127.0.0.1:6379")
AMQP_URL = os.environ.get("SOHOA_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@contextmanager
def fresh_pg_database(prefix: str = "sohoa_test") -> Iterator[str]:
    """A new, empty PostgreSQL database on the local server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database shared by this test session (tests must not assume it empty)."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own, for tests that count rows."""
    with fresh_pg_database("sohoa_t") as url:
        yield url


def embedded_env(tmp: Path) -> dict[str, str]:
    return {"SOHOA_DATA_DIR": str(tmp / "data")}


def service_env(
    tmp: Path, *, broker: str, database: str, s3_endpoint: str, bucket: str | None = None
) -> dict[str, str]:
    return {
        "SOHOA_DATA_DIR": str(tmp / "data"),
        "SOHOA_DATABASE_URL": database,
        "SOHOA_BROKER_URL": broker,
        "SOHOA_STORAGE_URL": f"s3://{bucket or 'sohoa-' + uuid.uuid4().hex[:8]}",
        "SOHOA_S3_ENDPOINT": s3_endpoint,
        "SOHOA_S3_ACCESS_KEY": "testing",
        "SOHOA_S3_SECRET_KEY": "testing",
        "SOHOA_QUEUE": f"sohoa-test-{uuid.uuid4().hex[:8]}",
    }


def settings_from(env: dict[str, str]) -> Settings:
    kwargs = {k.removeprefix("SOHOA_").lower(): v for k, v in env.items()}
    return Settings(_env_file=None, **kwargs)  # type: ignore[call-arg]


class WorkerProcess:
    """A real `sohoa worker` in its own process group."""

    def __init__(self, env: dict[str, str], log: Path, concurrency: int = 2) -> None:
        full = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "worker",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env=full,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()  # the main process stops its pool children itself
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self._fh.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], concurrency: int = 2) -> WorkerProcess:
        w = WorkerProcess(env, tmp_path / f"worker-{len(started)}.log", concurrency)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def wait_final(services, ids: list[str], timeout: float = 180, worker=None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Poll the database until every document reached a final status."""
    from sqlalchemy import select

    from schemas.db import Document, DocumentStatus

    deadline = time.monotonic() + timeout
    while True:
        with services.sessions() as s:
            rows = {d.id: d.status for d in s.scalars(select(Document).where(Document.id.in_(ids)))}
        if len(rows) == len(ids) and all(v in DocumentStatus.FINAL for v in rows.values()):
            return rows
        if worker is not None and not worker.alive():
            raise AssertionError("worker died:\n" + worker.output()[-3000:])
        if time.monotonic() > deadline:
            tail = worker.output()[-3000:] if worker is not None else ""
            raise AssertionError(f"timed out waiting, statuses {rows}\n{tail}")
        time.sleep(0.3)
