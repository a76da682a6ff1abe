"""Shared parts of the fault tests: a small batch of real scans and the checks that say
"nothing lost, nothing duplicated" by counting rows and stored objects."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from schemas.db import Document, Page, RecordRow, RecordVersion
from tests.conftest import WorkerProcess, free_port, service_env, settings_from
from tests.faults.netfaults import RedisServer, TcpProxy
from tests.scans import birth_certificate_png, id_card_pdf
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services, original_key

#: Short enough that a killed worker's tasks come back soon on Redis (visibility timeout
#: = page_timeout_s + 60), long enough for any test page on a loaded 2-core machine.
PAGE_TIMEOUT_S = 20


def tiny_png(text: str = "Trang 1") -> bytes:
    """A small page that takes well under a second to read."""
    im = Image.new("RGB", (600, 300), "white")
    ImageDraw.Draw(im).text((50, 50), text, fill="black")
    buf = io.BytesIO()
    im.save(buf, format="PNG", dpi=(150, 150))
    return buf.getvalue()


def batch_files(seed: int, cards: int = 1, certificates: int = 2) -> list[tuple[str, bytes]]:
    """Two-page chip-card PDFs and one-page birth certificates: one paper (record) each."""
    files = [(f"cccd-{seed + i}.pdf", id_card_pdf(seed + i)[0]) for i in range(cards)]
    files += [
        (f"khai-sinh-{seed + i}.png", birth_certificate_png(seed + i)[0])
        for i in range(certificates)
    ]
    return files


@dataclass
class Env:
    """The worker's view (`env`, possibly through proxies) and the test's direct view."""

    env: dict[str, str]
    services: Services

    def ingest(self, files: list[tuple[str, bytes]]) -> list[str]:
        ids = []
        for name, data in files:
            ing = ingest_bytes(self.services, name, data)
            assert ing.error is None, ing.error
            ids.append(ing.document_id)
        return ids

    def enable_versioning(self) -> None:
        """Every write of an object is kept: a page stored twice shows as two versions."""
        from minio.commonconfig import ENABLED
        from minio.versioningconfig import VersioningConfig

        from pipeline.storage import S3Store

        store = self.services.store
        assert isinstance(store, S3Store)
        store.client.set_bucket_versioning(store.bucket, VersioningConfig(ENABLED))

    def page_json_versions(self) -> dict[str, int]:
        from pipeline.storage import S3Store

        store = self.services.store
        assert isinstance(store, S3Store)
        counts: dict[str, int] = {}
        for obj in store.client.list_objects(
            store.bucket, prefix="pages/", recursive=True, include_version=True
        ):
            name = obj.object_name or ""
            if name.endswith(".json"):
                counts[name] = counts.get(name, 0) + 1
        return counts

    def progress(self, ids: list[str]) -> tuple[int, int]:
        with self.services.sessions() as s:
            done = s.scalar(select(func.sum(Document.pages_done)).where(Document.id.in_(ids)))
            running = s.scalar(
                select(func.count())
                .select_from(Page)
                .where(Page.document_id.in_(ids), Page.status == "pending", Page.attempts > 0)
            )
        return int(done or 0), int(running or 0)

    def wait(self, cond: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def check_nothing_lost(
        self, ids: list[str], files: list[tuple[str, bytes]], *, once: bool = True
    ) -> None:
        """Every file ready, one record per paper, one version each, originals stored; with
        `once`, every page's result was stored exactly once (no page completed twice)."""
        with self.services.sessions() as s:
            docs = {d.id: d for d in s.scalars(select(Document).where(Document.id.in_(ids)))}
            records = list(s.scalars(select(RecordRow).where(RecordRow.document_id.in_(ids))))
            versions = s.scalar(select(func.count()).select_from(RecordVersion))
            pages = list(s.scalars(select(Page).where(Page.document_id.in_(ids))))
        assert {d.status for d in docs.values()} <= {"ready", "needs_review"}, {
            d.id: (d.status, d.error_code) for d in docs.values()
        }
        per_doc = {i: sum(1 for r in records if r.document_id == i) for i in ids}
        assert per_doc == {i: 1 for i in ids}, per_doc
        assert versions == len(ids)  # no paper saved twice as a "re-scan" of itself
        assert all(p.status == "done" for p in pages)
        for doc_id, (_, data) in zip(ids, files, strict=True):
            doc = docs[doc_id]
            assert doc.pages_done == doc.page_count == sum(p.document_id == doc_id for p in pages)
            stored = self.services.store.get(original_key(doc.sha256))
            assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
        names = self.services.store.list("records/")
        assert not [n for n in names if "/v2/" in n], "a record was sealed twice"
        if once:
            counts = self.page_json_versions()
            expected = {f"pages/{p.document_id}/{p.number:04d}.json" for p in pages}
            assert set(counts) == expected
            assert {k: v for k, v in counts.items() if v != 1} == {}


def make_env(
    tmp: Path,
    *,
    broker: str,
    database: str,
    s3: str,
    worker_database: str | None = None,
    worker_s3: str | None = None,
    **extra: str,
) -> Env:
    """Settings for the worker (through proxies if given) and Services for the test (direct)."""
    bucket = "sohoa-" + uuid.uuid4().hex[:8]
    direct = service_env(tmp, broker=broker, database=database, s3_endpoint=s3, bucket=bucket)
    direct["SOHOA_PAGE_TIMEOUT_S"] = str(PAGE_TIMEOUT_S)
    direct.update(extra)
    settings = settings_from(direct)
    configure(settings)
    services = Services.from_settings(settings)
    worker = dict(direct)
    if worker_database:
        worker["SOHOA_DATABASE_URL"] = worker_database
    if worker_s3:
        worker["SOHOA_S3_ENDPOINT"] = worker_s3
    return Env(env=worker, services=services)


def stop_now(*workers: WorkerProcess) -> None:
    """kill -9 workers whose test is over: a warm shutdown costs seconds, and nothing of
    theirs is needed any more (each test has its own queue and database)."""
    for w in workers:
        if w.alive():
            os.killpg(w.proc.pid, signal.SIGKILL)
            w.proc.wait()


def pool_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def kill_children(pid: int) -> list[int]:
    """kill -9 the worker's pool processes (what the OOM killer does to a page gone wild)."""
    children = pool_children(pid)
    for child in children:
        os.kill(child, signal.SIGKILL)
    return children


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


class RabbitNode:
    """A private RabbitMQ node (own name, ports and data folder) that a test may stop and
    start; the machine's shared node is never touched."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq.conf").write_text("")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": f"sohoa{uuid.uuid4().hex[:8]}@localhost",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(folder / "pid"),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 60) -> RabbitNode:
        (self.folder / "pid").unlink(missing_ok=True)
        log = (self.folder / "server.log").open("ab")
        self.proc = subprocess.Popen(
            ["/usr/lib/rabbitmq/bin/rabbitmq-server"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                import kombu

                with kombu.Connection(self.url, connect_timeout=1) as conn:
                    conn.connect()
                return self
            except Exception:
                time.sleep(0.3)
        raise RuntimeError("private RabbitMQ node did not start")

    def stop(self) -> None:
        """SIGTERM to the node's VM (its PID file): a clean broker shutdown."""
        pid_file = self.folder / "pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            try:
                os.kill(pid, signal.SIGTERM)
                for _ in range(300):
                    os.kill(pid, 0)
                    time.sleep(0.1)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


@pytest.fixture
def rabbit_node(tmp_path: Path) -> Iterator[RabbitNode]:
    if not Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        pytest.skip("rabbitmq-server is not installed")
    node = RabbitNode(tmp_path / "rabbit").start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def pg_proxy() -> Iterator[TcpProxy]:
    from sqlalchemy.engine import make_url

    from tests.conftest import PG_ADMIN_URL

    url = make_url(PG_ADMIN_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def through(url: str, proxy: TcpProxy) -> str:
    """The same database URL, pointed at the proxy."""
    from sqlalchemy.engine import make_url

    return (
        make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    )


@pytest.fixture
def s3_proxy(s3_endpoint: str) -> Iterator[TcpProxy]:
    host, port = s3_endpoint.rsplit(":", 1)
    proxy = TcpProxy(host, int(port)).start()
    try:
        yield proxy
    finally:
        proxy.stop()
