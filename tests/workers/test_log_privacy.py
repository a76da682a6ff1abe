"""No personal data (names, ID numbers, OCR text) in logs at any level (issue 6).

Two papers with planted unusual names, an unusual address and their personal ID
numbers go through every door that logs: a real `sohoa worker` at DEBUG (Redis,
PostgreSQL, S3), `sohoa process` with its root logger at DEBUG (beyond `-v`), and
the API in this process (citizen lookup, record read, reuse) with caplog at DEBUG.
Each captured log is searched, case- and diacritic-insensitively, for the planted
values, their MRZ, JSON-escaped and URL-encoded forms, the values as OCR read them,
and the OCR lines that carry them.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.keys import create_key
from schemas.db import RecordRow
from tests.conftest import (
    REDIS_URL,
    ROOT,
    fresh_pg_database,
    service_env,
    settings_from,
    wait_final,
)
from tests.scans import pdf_of
from tests.synth import mrz_lines, render_page, sample_fields
from workers.app import configure
from workers.ingest import ingest_bytes
from workers.services import Services

AGENCY = "000.00.00.H55"
DOSSIER = f"{AGENCY}-251125-0007"
PERSONAL_FIELDS = (
    "full_name",
    "personal_id",
    "place_of_residence",
    "mother_name",
    "father_name",
    "date_of_birth",
)

#: Loggers of this test's own machinery, not of sohoa: the S3 server (moto's werkzeug,
#: standing in for MinIO) and the test client (httpx), which log every URL they see.
NOT_OURS = ("werkzeug", "httpx", "httpcore")

# Names and an address no generator draws, so a hit can only come from these papers.
CARD_PLANTED = {
    "full_name": "TÔN NỮ DIỆU HUYỀN",
    "place_of_residence": "Số 41 ngõ Trúc Lạc, phường Phúc Xá, Ba Đình",
}
BIRTH_PLANTED = {
    "full_name": "KHƯƠNG BẢO NGHI",
    "mother_name": "LẠC THỊ XUÂN QUỲNH",
    "father_name": "ÂU DƯƠNG THẾ TÙNG",
}


def fold(text: str) -> str:
    """Lower case without diacritics (đ -> d): how a careless log might print a name."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
    ).lower()


@dataclass
class Papers:
    """The files fed to every door and the values that must never be logged."""

    card: bytes
    birth: bytes
    card_fields: dict[str, str]
    birth_fields: dict[str, str]
    secrets: list[str]

    def add_secret(self, value: str) -> None:
        value = value.strip()
        # Short values (a year, "Nam") would match by chance; dates are in the planted set.
        if len(value) >= 8 and value not in self.secrets:
            self.secrets.append(value)


def _papers() -> Papers:
    card_fields = {**sample_fields("citizen_id_card", 7401), **CARD_PLANTED}
    front, front_lines = render_page("citizen_id_card", card_fields, dpi=300, seed=7401)
    back, back_lines = render_page("citizen_id_card_back", card_fields, dpi=300, seed=7401)
    birth_fields = {**sample_fields("birth_certificate", 7402), **BIRTH_PLANTED}
    page, birth_lines = render_page("birth_certificate", birth_fields, dpi=300, seed=7402)
    papers = Papers(
        card=pdf_of([front, back], 300),
        birth=pdf_of([page], 300),
        card_fields=card_fields,
        birth_fields=birth_fields,
        secrets=[],
    )
    for value in [*CARD_PLANTED.values(), *BIRTH_PLANTED.values()]:
        papers.add_secret(value)
    papers.add_secret(card_fields["personal_id"])
    papers.add_secret(birth_fields["personal_id"])
    papers.add_secret(card_fields["date_of_birth"])
    for line in mrz_lines(card_fields):
        papers.add_secret(line.rstrip("<"))
    # The printed lines that carry a planted value (what OCR text of them looks like).
    planted = [fold(s) for s in papers.secrets]
    for line in [*front_lines, *back_lines, *birth_lines]:
        if any(p in fold(line) for p in planted):
            papers.add_secret(line)
    return papers


def _forms(secret: str) -> set[str]:
    """The folded forms a leak of ``secret`` could take in a log line."""
    forms = {secret, secret.title(), secret.replace(" ", "<"), secret.replace(" ", "<<", 1)}
    forms |= {json.dumps(f)[1:-1] for f in list(forms)}  # \u escapes
    forms |= {quote(f) for f in list(forms)}  # URLs
    return {fold(f) for f in forms}


def find_leaks(log_text: str, secrets: list[str]) -> list[str]:
    """Each log line that holds a secret in any of its forms, with the secret it holds."""
    hits = []
    forms = {s: _forms(s) for s in secrets}
    for line in log_text.splitlines():
        folded = fold(line)
        for secret, variants in forms.items():
            if any(v in folded for v in variants):
                hits.append(f"{secret!r} in: {line[:300]}")
                break
    return hits


def _assert_clean(where: str, log_text: str, secrets: list[str]) -> None:
    leaks = find_leaks(log_text, secrets)
    assert not leaks, f"personal data in the {where} log:\n" + "\n".join(leaks[:40])


@pytest.fixture(scope="module")
def papers() -> Papers:
    return _papers()


def test_detector_finds_every_form(papers: Papers) -> None:
    """The grep itself: planted values are found however a log line might spell them."""
    name = CARD_PLANTED["full_name"]
    pid = papers.card_fields["personal_id"]
    for line in (
        f"INFO x {name}",
        f"DEBUG x {name.title()}",
        "record for ton nu dieu huyen",
        "TON<<NU<DIEU<HUYEN<<<<",
        json.dumps({"full_name": name}),
        f'"GET /bucket/records/{pid}.citizen_id_card.p1.01/v1/archive.pdf HTTP/1.1" 200',
        f"GET /api/v1/records?full_name={quote(name)}",
    ):
        assert find_leaks(line, papers.secrets), line
    assert not find_leaks("INFO document=abc finished records=1 NGUYỄN VĂN HÙNG", papers.secrets)


# --------------------------------------------------------------------------- the worker


class _DebugWorker:
    """`sohoa worker --loglevel DEBUG`, its stdout and stderr in one file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(
            [*(sys.executable, "-m", "api.cli", "worker"), "--concurrency=2", "--loglevel=DEBUG"],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._fh.close()


@dataclass
class WorkerRun:
    services: Services
    worker_log: str
    ingest_log: str
    card_code: str
    birth_code: str


@pytest.fixture(scope="module")
def worker_run(
    papers: Papers, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[WorkerRun]:
    tmp = tmp_path_factory.mktemp("privacy")
    with fresh_pg_database("sohoa_t") as db:
        env = service_env(tmp, broker=REDIS_URL + "/0", database=db, s3_endpoint=s3_endpoint)
        settings = settings_from(env)
        configure(settings)
        services = Services.from_settings(settings)
        worker = _DebugWorker(env, tmp / "worker.log")
        # The ingest runs in this process: capture its logs at DEBUG too.
        records: list[str] = []
        handler = _ListHandler(records)
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            ids = [
                ingest_bytes(services, "cccd.pdf", papers.card, DOSSIER).document_id,
                ingest_bytes(services, "khai-sinh.pdf", papers.birth, DOSSIER).document_id,
            ]
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
        try:
            wait_final(services, ids, timeout=240, worker=worker)
        finally:
            worker.stop()
        with services.sessions() as s:
            rows = {r.document_id: r for r in s.scalars(select(RecordRow))}
        assert set(rows) == set(ids), "every paper made a record"
        for row in rows.values():
            for name in PERSONAL_FIELDS:
                field = row.body.get("fields", {}).get(name)
                if field and field.get("value"):
                    papers.add_secret(str(field["value"]))
        yield WorkerRun(
            services,
            worker.output(),
            "\n".join(records),
            rows[ids[0]].record_code,
            rows[ids[1]].record_code,
        )
        services.engine.dispose()


class _ListHandler(logging.Handler):
    def __init__(self, out: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.out = out
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(NOT_OURS):
            self.out.append(self.format(record))


def test_worker_logs_at_debug(papers: Papers, worker_run: WorkerRun) -> None:
    """The worker read the planted values (they are in its records) but never logged them."""
    with worker_run.services.sessions() as s:
        card = s.scalar(select(RecordRow).where(RecordRow.record_code == worker_run.card_code))
    assert card is not None
    assert card.body["fields"]["personal_id"]["value"] == papers.card_fields["personal_id"]
    assert fold(CARD_PLANTED["full_name"]) in fold(card.body["text"])
    assert "DEBUG" in worker_run.worker_log, "the worker logged at DEBUG"
    assert "sohoa.ocr_page" in worker_run.worker_log
    _assert_clean("worker", worker_run.worker_log, papers.secrets)
    _assert_clean("ingest", worker_run.ingest_log, papers.secrets)


# --------------------------------------------------------------------------- sohoa process

_DEBUG_PROCESS = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, "
    "format='%(asctime)s %(levelname)s %(name)s %(message)s'); "
    "from api.cli import app; app()"
)


def test_process_logs_at_debug(papers: Papers, tmp_path: Path) -> None:
    """`sohoa process -v` with the root logger at DEBUG: records on stdout, none in stderr."""
    files = [tmp_path / "cccd.pdf", tmp_path / "khai-sinh.pdf"]
    files[0].write_bytes(papers.card)
    files[1].write_bytes(papers.birth)
    done = subprocess.run(
        [sys.executable, "-c", _DEBUG_PROCESS, "process", "-v", "--json", "--jobs", "2"]
        + [str(f) for f in files],
        cwd=ROOT,
        env={**os.environ, "SOHOA_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode in (0, 2), done.stderr[-3000:]
    # Its output is the records: the planted values were read.
    assert papers.card_fields["personal_id"] in done.stdout
    assert "DEBUG" in done.stderr, "the root logger was at DEBUG"
    _assert_clean("sohoa process", done.stderr, papers.secrets)


# --------------------------------------------------------------------------- the API


def test_api_logs_at_debug(
    papers: Papers, worker_run: WorkerRun, caplog: pytest.LogCaptureFixture
) -> None:
    """Citizen lookup, record read and reuse, every logger at DEBUG."""
    services = worker_run.services
    with services.sessions() as s:
        key = create_key(s, "portal", ["records:read_personal", "scans:write"], AGENCY)
    headers = {"X-API-Key": key}
    api = TestClient(create_app(services))
    caplog.set_level(logging.DEBUG)
    card_pid = papers.card_fields["personal_id"]
    code = worker_run.card_code

    with services.sessions() as s:
        row = s.scalar(select(RecordRow).where(RecordRow.record_code == code))
        assert row is not None
        status = row.status
    if status != "published":
        assert api.post(f"/api/v1/records/{code}/approve", headers=headers).status_code == 200
    got = api.get(f"/api/v1/citizens/{card_pid}/records", headers=headers)
    assert got.status_code == 200, got.text
    assert [r["record_code"] for r in got.json()["records"]] == [code]
    got = api.get(f"/api/v1/records/{code}", headers=headers)
    assert got.status_code == 200
    assert got.json()["fields"]["full_name"]["value"]
    reused = api.post(
        f"/api/v1/dossiers/{AGENCY}-251126-0001/reuse",
        json={"record_code": code, "purpose": "cấp đổi hộ chiếu"},
        headers=headers,
    )
    assert reused.status_code == 200, reused.text
    # A lookup that finds nothing and a record that does not exist log nothing personal either.
    assert api.get("/api/v1/citizens/001099999999/records", headers=headers).status_code == 200
    missing = api.get(f"/api/v1/records/{card_pid}.citizen_id_card.x.09", headers=headers)
    assert missing.status_code == 404

    text = "\n".join(
        f"{r.levelname} {r.name} {r.getMessage()}"
        for r in caplog.records
        if not r.name.startswith(NOT_OURS)
    )
    assert caplog.records, "the API logged nothing at DEBUG: the capture is not working"
    _assert_clean("API", text, papers.secrets)
