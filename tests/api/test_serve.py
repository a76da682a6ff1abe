"""`sohoa serve --workers 2`: two API processes on one port, each answering authenticated
reads (through the fast lane on PostgreSQL) without the delayed-ACK stall, and a clean
stop that leaves every audit entry sealed."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from api.keys import create_key
from schemas.audit import chain_head, pending, verify_chain
from schemas.db import AuditEntry
from tests.api.test_reads import PID, _hold
from tests.conftest import ROOT, embedded_env, free_port, settings_from
from tests.faults.conftest import pool_children
from workers.services import Services


def test_two_processes_serve_and_stop_cleanly(tmp_path: Path, empty_pg_url: str) -> None:
    env = {**embedded_env(tmp_path), "SOHOA_DATABASE_URL": empty_pg_url}
    services = Services.from_settings(settings_from(env))
    codes = _hold(services)
    with services.sessions() as s:
        key = create_key(s, "portal", ["records:read_personal"], "000.00.00.H55")
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        ready = False
        while time.monotonic() < deadline and proc.poll() is None and not ready:
            try:
                ready = httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.3)
        assert ready, (tmp_path / "serve.log").read_text()
        assert len(pool_children(proc.pid)) >= 2  # uvicorn's supervisor and its two processes
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as client:
            took = []
            for i in range(40):  # one keep-alive connection
                started = time.perf_counter()
                path = f"/api/v1/records/{codes[0]}" if i % 2 else f"/api/v1/citizens/{PID}/records"
                resp = client.get(path)
                took.append(time.perf_counter() - started)
                assert resp.status_code == 200, resp.text
        # A delayed ACK would hold every keep-alive response ~40 ms (Nagle); a local read
        # takes a few ms even on a busy machine.
        assert statistics.median(took) < 0.030, took
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()
    with services.sessions() as s:
        reads = list(s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "portal")))
        assert len(reads) == 40
        # Each process sealed what it had written before it stopped.
        assert pending(s) == 0
        assert verify_chain(s) == (True, None)
        assert chain_head(s).entries == 40
