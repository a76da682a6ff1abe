"""Throughput and latency of the API's reads next to a bare endpoint doing the same SQL.

`make bench-api`: creates its own PostgreSQL database, migrates it, bulk-loads
100,000 records (bodies valid as `schemas.record.Record`) of about 50,000 citizens,
then starts two servers under uvicorn with the same number of worker processes:

- sohoa: `create_app` exactly as `sohoa serve` builds it (embedded folder store in a
  temporary directory, this database), every call authenticated, rate-limited and
  audited (one hash-chained audit entry per read);
- bare: a raw ASGI app with an asyncpg pool doing only the same SQL per request:
  one indexed SELECT and one INSERT of an audit-like row, no auth, no chain, no ORM.

wrk (Debian's; `make bench-api` installs it when missing) drives each endpoint at
1, 10 and 50 concurrent connections, each request for a random record or citizen,
after a short warm-up and a CHECKPOINT. Prints requests/s and p50/p99 latency per endpoint and
client count, and the two target ratios: sohoa's throughput at 50 clients over the
bare endpoint's (target >= 0.70) and its p99 at 10 clients over the bare one's
(target <= 1.5). Writes bench-results/api.json. wrk, both servers and PostgreSQL
share the machine's cores: at 50 clients latency is mostly queueing.

The citizen lookup (`GET /api/v1/citizens/{personal_id}/records`) is measured when
the running code has that route, and reported as missing otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]
RESULT = Path("bench-results/api.json")

CLIENTS = (1, 10, 50)
BARE_POOL = 15  # SQLAlchemy's default pool (5 + 10 overflow) per process, as sohoa has

# --- realistic data -------------------------------------------------------------------

SURNAMES = ["NGUYỄN", "TRẦN", "LÊ", "PHẠM", "HOÀNG", "HUỲNH", "PHAN", "VŨ", "VÕ", "ĐẶNG", "BÙI"]
MIDDLE = ["VĂN", "THỊ", "HỮU", "ĐỨC", "MINH", "NGỌC", "THANH", "QUỐC", "XUÂN", "KIM"]
GIVEN = ["AN", "BÌNH", "CHÂU", "DŨNG", "GIANG", "HÀ", "HẢI", "HÙNG", "LAN", "LINH", "MAI"]
GIVEN += ["NAM", "PHƯƠNG", "QUANG", "SƠN", "THẢO", "TRANG", "TUẤN", "VÂN", "YẾN", "KHÁNH"]
PLACES = [
    "Phường Dịch Vọng, Quận Cầu Giấy, Hà Nội",
    "Xã Tân Lập, Huyện Đan Phượng, Hà Nội",
    "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
    "Phường Hải Châu I, Quận Hải Châu, Đà Nẵng",
    "Xã Quảng Thành, Huyện Quảng Điền, Thừa Thiên Huế",
    "Phường Lê Lợi, TP. Vinh, Nghệ An",
]
PROVINCES = ["001", "079", "048", "046", "040", "031", "092", "036"]
DOC_TYPES = (
    "citizen_id_card",
    "birth_certificate",
    "residence_confirmation",
    "marriage_certificate",
    "driving_licence",
    "diploma",
)


def _date(rng: random.Random, start: int, end: int) -> dt.date:
    return dt.date(start, 1, 1) + dt.timedelta(days=rng.randrange((end - start) * 365))


def _citizen(rng: random.Random, n: int) -> dict[str, str]:
    born = _date(rng, 1950, 2010)
    sex = rng.choice(["Nam", "Nữ"])
    century = (0 if born.year < 2000 else 2) + (1 if sex == "Nữ" else 0)
    pid = f"{rng.choice(PROVINCES)}{century}{born.year % 100:02d}{n % 1_000_000:06d}"
    return {
        "personal_id": pid,
        "full_name": f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}",
        "date_of_birth": born.isoformat(),
        "sex": sex,
        "place": rng.choice(PLACES),
    }


def _fields(rng: random.Random, who: dict[str, str], doc_type: str) -> dict[str, str]:
    issued = _date(rng, 2012, 2026).isoformat()
    common = {"personal_id": who["personal_id"], "full_name": who["full_name"]}
    if doc_type == "citizen_id_card":
        return {
            **common,
            "date_of_birth": who["date_of_birth"],
            "sex": who["sex"],
            "nationality": "Việt Nam",
            "place_of_origin": rng.choice(PLACES),
            "place_of_residence": who["place"],
            "issue_date": issued,
            "expiry_date": _date(rng, 2026, 2040).isoformat(),
        }
    if doc_type == "birth_certificate":
        return {
            **common,
            "document_number": f"{rng.randrange(1, 999)}/{issued[:4]}",
            "date_of_birth": who["date_of_birth"],
            "sex": who["sex"],
            "ethnicity": "Kinh",
            "nationality": "Việt Nam",
            "place_of_birth": who["place"],
            "father_name": f"{who['full_name'].split()[0]} VĂN {rng.choice(GIVEN)}",
            "mother_name": f"{rng.choice(SURNAMES)} THỊ {rng.choice(GIVEN)}",
            "issue_date": issued,
        }
    if doc_type == "residence_confirmation":
        return {
            **common,
            "date_of_birth": who["date_of_birth"],
            "permanent_residence": who["place"],
            "issue_date": issued,
        }
    if doc_type == "marriage_certificate":
        return {
            "document_number": f"{rng.randrange(1, 999)}/{issued[:4]}",
            "husband_name": who["full_name"],
            "wife_name": f"{rng.choice(SURNAMES)} THỊ {rng.choice(GIVEN)}",
            "husband_id": who["personal_id"],
            "issue_date": issued,
        }
    return {**common, "document_number": f"{rng.randrange(10**9, 10**10)}", "issue_date": issued}


def _text(fields: dict[str, str], doc_type: str) -> str:
    head = "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n"
    title = doc_type.replace("_", " ").upper()
    lines = [f"{k.replace('_', ' ').capitalize()}: {v}" for k, v in fields.items()]
    return head + title + "\n" + "\n".join(lines) + "\n" + "Nơi cấp: Cục Cảnh sát QLHC về TTXH\n"


def make_rows(n_records: int, n_citizens: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Record bodies (as stored: `Record.model_dump(mode="json")`) with their row columns."""
    from schemas.record import FieldValue, PageReport, Record, RecordStatus

    status = (
        RecordStatus("published")
        if "published" in RecordStatus.__members__
        else next(iter(RecordStatus))
    )
    rng = random.Random(seed)
    citizens = [_citizen(rng, i) for i in range(n_citizens)]
    seen: dict[tuple[str, str], int] = {}
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for i in range(n_records):
        # Every citizen has at least one record; the rest are spread at random.
        who = citizens[i] if i < n_citizens else rng.choice(citizens)
        doc_type = DOC_TYPES[0] if i < n_citizens else rng.choice(DOC_TYPES)
        fields = _fields(rng, who, doc_type)
        number = fields.get("document_number", who["personal_id"]).replace("/", "-")
        nth = seen[(number, doc_type)] = seen.get((number, doc_type), 0) + 1
        code = f"{who['personal_id']}.{doc_type}.{number}.{nth:02d}"
        sha = uuid.UUID(int=rng.getrandbits(128)).hex * 2
        doc_id = uuid.UUID(int=rng.getrandbits(128)).hex
        created = start + dt.timedelta(seconds=i * 300 + rng.randrange(300))
        record = Record(
            record_code=code,
            document_id=doc_id,
            source=f"scan-{i:06d}.pdf",
            sha256=sha,
            pages=[1],
            doc_type=doc_type,
            doc_type_confidence=round(rng.uniform(0.8, 1.0), 3),
            fields={
                k: FieldValue(value=v, confidence=round(rng.uniform(0.85, 1.0), 3))
                for k, v in fields.items()
            },
            text=_text(fields, doc_type),
            quality=[
                PageReport(
                    page=1,
                    blur=round(rng.uniform(150, 900), 1),
                    contrast=round(rng.uniform(0.4, 0.9), 3),
                    brightness=round(rng.uniform(0.5, 0.9), 3),
                    estimated_dpi=300,
                    rotation=0,
                    skew_degrees=round(rng.uniform(-2, 2), 2),
                    cropped=True,
                    perspective_corrected=False,
                    scale=1.0,
                    binarised=False,
                    mean_confidence=round(rng.uniform(0.85, 0.98), 3),
                )
            ],
            status=status,
        )
        yield {
            "record": record,
            "personal_id": who["personal_id"],
            "doc_type": doc_type,
            "created_at": created,
            "valid_from": fields.get("issue_date"),
            "valid_until": fields.get("expiry_date"),
        }


# --- database -------------------------------------------------------------------------


def _sync_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def load(url: str, n_records: int, n_citizens: int) -> tuple[list[str], list[str]]:
    """COPY the documents and records in; return (record codes, personal IDs) to ask for."""
    import psycopg
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    cols = {c["name"]: c for c in inspect(engine).get_columns("records")}
    engine.dispose()
    codes: list[str] = []
    pids: set[str] = set()
    t0 = time.perf_counter()
    with psycopg.connect(_sync_url(url)) as conn, conn.cursor() as cur:
        rows = list(make_rows(n_records, n_citizens))
        doc_cols = ("id", "sha256", "source", "size", "mime", "status", "page_count",
                    "pages_done", "created_at", "updated_at", "finished_at")  # fmt: skip
        with cur.copy(f"COPY documents ({', '.join(doc_cols)}) FROM STDIN") as cp:
            for r in rows:
                rec, at = r["record"], r["created_at"]
                cp.write_row((rec.document_id, rec.sha256, rec.source, 250_000,
                              "application/pdf", "ready", 1, 1, at, at, at))  # fmt: skip
        wanted = ["record_code", "document_id", "first_page", "doc_type", "personal_id",
                  "dossier_code", "status", "body", "artifacts", "created_at"]  # fmt: skip
        optional = {"version", "validity", "valid_from", "valid_until", "agency_code",
                    "identity_key", "updated_at"}  # fmt: skip
        wanted += [c for c in cols if c in optional]
        unknown = [
            c
            for c, info in cols.items()
            if c not in wanted and c != "id" and not info["nullable"] and info["default"] is None
        ]
        if unknown:
            raise SystemExit(f"records has required columns this bench does not fill: {unknown}")
        with cur.copy(f"COPY records ({', '.join(wanted)}) FROM STDIN") as cp:
            for r in rows:
                rec = r["record"]
                body = rec.model_dump(mode="json")
                art = {k: f"records/{rec.record_code}/{k}" for k in ("json", "text", "pdf")}
                values = {
                    "record_code": rec.record_code,
                    "document_id": rec.document_id,
                    "first_page": 1,
                    "doc_type": rec.doc_type,
                    "personal_id": r["personal_id"],
                    "dossier_code": None,
                    "status": rec.status.value,
                    "body": json.dumps(body, ensure_ascii=False),
                    "artifacts": json.dumps(art),
                    "created_at": r["created_at"],
                    "version": 1,
                    "validity": "until" if r["valid_until"] else "no_expiry",
                    "valid_from": r["valid_from"],
                    "valid_until": r["valid_until"],
                    "agency_code": "000.00.00.H55",
                    "identity_key": None,
                    "updated_at": r["created_at"],
                }
                cp.write_row(tuple(values[c] for c in wanted))
                codes.append(rec.record_code)
                pids.add(r["personal_id"])
        cur.execute(
            "CREATE TABLE bare_audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL,"
            " actor varchar(100) NOT NULL, action varchar(64) NOT NULL,"
            " record_code varchar(200), personal_id varchar(16), purpose varchar(200))"
        )
        conn.commit()
        cur.execute("ANALYZE")
    print(
        f"loaded {len(codes)} records of {len(pids)} citizens in {time.perf_counter() - t0:.0f} s"
    )
    return codes, sorted(pids)


# --- the two servers ------------------------------------------------------------------


def sohoa_app() -> Any:
    """What `sohoa serve` runs, as a factory so that uvicorn can start several workers."""
    from api.app import create_app
    from config.settings import load_settings
    from workers.app import configure
    from workers.services import Services

    settings = load_settings()
    configure(settings)
    return create_app(Services.from_settings(settings, migrate_db=False))


class BareApp:
    """Raw ASGI: routing by prefix, one indexed SELECT and one INSERT per request (asyncpg)."""

    def __init__(self) -> None:
        self.pool: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/bare/records/"):
            status, body = await self._record(path.removeprefix("/bare/records/"))
        elif path.startswith("/bare/citizens/"):
            status, body = await self._citizen(path.removeprefix("/bare/citizens/").split("/")[0])
        else:
            status, body = 200, b'{"status":"ok"}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        import asyncpg

        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                url = _sync_url(os.environ["SOHOA_DATABASE_URL"])
                self.pool = await asyncpg.create_pool(url, min_size=2, max_size=BARE_POOL)
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _record(self, code: str) -> tuple[int, bytes]:
        async with self.pool.acquire() as con:
            row = await con.fetchrow(
                "SELECT personal_id, body FROM records WHERE record_code = $1", code
            )
            if row is None:
                return 404, b'{"error":{"code":"not_found"}}'
            await con.execute(
                "INSERT INTO bare_audit (at, actor, action, record_code, personal_id, purpose)"
                " VALUES (now(), 'bench', 'record.read', $1, $2, 'bench')",
                code,
                row["personal_id"],
            )
        return 200, row["body"].encode()

    async def _citizen(self, pid: str) -> tuple[int, bytes]:
        async with self.pool.acquire() as con:
            rows = await con.fetch(
                "SELECT body FROM records WHERE personal_id = $1 ORDER BY created_at DESC", pid
            )
            await con.execute(
                "INSERT INTO bare_audit (at, actor, action, personal_id, purpose)"
                " VALUES (now(), 'bench', 'citizen.records', $1, 'bench')",
                pid,
            )
        return 200, b'{"records":[' + ",".join(r["body"] for r in rows).encode() + b"]}"


def bare_app() -> BareApp:
    return BareApp()


def checkpoint(url: str) -> None:
    """Flush PostgreSQL's dirty pages before a measurement, so that each starts from the
    same state: a checkpoint falling inside one cell only (the load above alone writes
    ~150 MB of WAL) stalls its commits and decides its p99 by chance."""
    import psycopg

    with psycopg.connect(_sync_url(url), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_worker(factory: str, port: int) -> None:
    """One server process: its own SO_REUSEPORT socket on the shared port, then uvicorn.

    Not `uvicorn --workers`: that binds a socket without IPPROTO_TCP, so asyncio leaves
    TCP_NODELAY off and every keep-alive response waits ~40 ms for a delayed ACK.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    config = uvicorn.Config(
        factory, factory=True, access_log=False, log_level="warning", backlog=2048
    )
    uvicorn.Server(config).run(sockets=[sock])


class Server:
    """N uvicorn processes sharing one port (SO_REUSEPORT), each in its own group."""

    def __init__(self, factory: str, workers: int, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self._log = log.open("wb")
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.bench.bench_api",
                    "--serve",
                    factory,
                    "--port",
                    str(self.port),
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for _ in range(workers)
        ]
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        ready = 0
        while time.monotonic() < deadline and ready < 3 * len(self.procs):
            if any(p.poll() is not None for p in self.procs):
                raise SystemExit(f"server {self.url} exited; see {self._log.name}")
            try:
                ok = httpx.get(self.url + path, timeout=2).status_code == 200
                ready = ready + 1 if ok else 0
            except httpx.HTTPError:
                ready = 0
            time.sleep(0.3)
        if ready < 3 * len(self.procs):
            raise SystemExit(f"server {self.url} did not start; see {self._log.name}")
        time.sleep(2)  # every process has bound its socket and run its start-up

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self._log.close()


# --- load generator (wrk) ---------------------------------------------------------------

LUA = r"""
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local headers = {["X-API-Key"] = os.getenv("BENCH_KEY"), ["X-Purpose"] = "bench"}
local n = 0
function setup(thread) n = n + 1; thread:set("seed", n) end
function init(args) math.randomseed(os.time() * 1000 + (seed or 0)) end
function request() return wrk.format("GET", paths[math.random(#paths)], headers) end
"""

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        raise ValueError(f"wrk latency {value!r}")
    return float(m[1]) * _UNIT[m[2]]


def wrk(url: str, paths: Path, key: str, clients: int, seconds: int, script: Path) -> dict:
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(clients),
            "-d",
            f"{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        env={**os.environ, "BENCH_PATHS": str(paths), "BENCH_KEY": key},
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        # No line when nothing came back in time (a stalled server): report it as NaN.
        "p50_ms": _ms(lat["50"]) if "50" in lat else float("nan"),
        "p99_ms": _ms(lat["99"]) if "99" in lat else float("nan"),
        "requests": int(total[1]) if total else 0,
        "non_2xx": int(bad[1]) if bad else 0,
        "socket_errors": errors[1] if errors else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--citizens", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "2")))
    ap.add_argument("--seconds", type=int, default=10, help="per measurement")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--clients", default=",".join(map(str, CLIENTS)))
    ap.add_argument("--out", type=Path, default=RESULT)
    ap.add_argument("--only", default="", help="comma-separated labels, e.g. 'sohoa record'")
    ap.add_argument("--serve", help=argparse.SUPPRESS)  # internal: one server process
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve_worker(args.serve, args.port)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk (make bench-api does)")
    clients = [int(c) for c in args.clients.split(",")]

    from api.keys import create_key
    from schemas.audit import chain_head, verify_chain
    from schemas.db import make_engine, make_sessionmaker, migrate

    with (
        tempfile.TemporaryDirectory(prefix="sohoa-bench-api-") as tmp_s,
        fresh_pg_database("sohoa_bench") as url,
    ):
        tmp = Path(tmp_s)
        migrate(url)
        codes, pids = load(url, args.records, args.citizens)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        with sessions() as s:
            # A limit far above what the machine can serve: the bucket is checked, never empty.
            key = create_key(s, "bench", ["records:read_personal"], "000.00.00.H55", 10**9)
        rng = random.Random(1)
        path_files = {}
        for name, paths in (
            (
                "record",
                [f"/api/v1/records/{c}" for c in rng.sample(codes, min(20_000, len(codes)))],
            ),
            (
                "citizen",
                [f"/api/v1/citizens/{p}/records" for p in rng.sample(pids, min(20_000, len(pids)))],
            ),
            (
                "bare_record",
                [f"/bare/records/{c}" for c in rng.sample(codes, min(20_000, len(codes)))],
            ),
            (
                "bare_citizen",
                [f"/bare/citizens/{p}/records" for p in rng.sample(pids, min(20_000, len(pids)))],
            ),
        ):
            path_files[name] = tmp / f"{name}.paths"
            path_files[name].write_text("\n".join(paths) + "\n")
        script = tmp / "bench.lua"
        script.write_text(LUA)
        env = {
            "SOHOA_DATABASE_URL": url,
            "SOHOA_DATA_DIR": str(tmp / "data"),
            "SOHOA_BROKER_URL": "memory://",
            "SOHOA_STORAGE_URL": (tmp / "objects").as_uri(),
        }
        sohoa = Server("tests.bench.bench_api:sohoa_app", args.workers, env, tmp / "sohoa.log")
        bare = Server("tests.bench.bench_api:bare_app", args.workers, env, tmp / "bare.log")
        results: dict[str, dict[int, dict]] = {}
        try:
            sohoa.wait_ready("/healthz")
            bare.wait_ready("/bare/health")
            import httpx

            probe = httpx.get(
                f"{sohoa.url}/api/v1/citizens/{pids[0]}/records", headers={"X-API-Key": key}
            )
            endpoints = [("bare record", bare, "bare_record"), ("sohoa record", sohoa, "record")]
            endpoints.insert(0, ("bare citizen", bare, "bare_citizen"))
            if probe.status_code == 200:
                endpoints.insert(1, ("sohoa citizen", sohoa, "citizen"))
            else:
                print(f"citizen lookup not measured: the route answered {probe.status_code}")
            if args.only:
                endpoints = [e for e in endpoints if e[0] in args.only.split(",")]
            for label, server, paths in endpoints:
                wrk(server.url, path_files[paths], key, 10, args.warmup, script)
                results[label] = {}
                for c in clients:
                    checkpoint(url)
                    r = wrk(server.url, path_files[paths], key, c, args.seconds, script)
                    results[label][c] = r
                    print(
                        f"{label:14} c={c:<3} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f} ms"
                        f"  p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non_2xx']}",
                        flush=True,
                    )
        finally:
            sohoa.stop()
            bare.stop()
        with sessions() as s:
            ok, bad_id = verify_chain(s)
            head = chain_head(s)
        engine.dispose()

    print()
    print(f"{'endpoint':14} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for label, by_c in results.items():
        for c, r in by_c.items():
            print(f"{label:14} {c:>7} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}")
    ratios: dict[str, dict[str, float]] = {}
    for kind in ("record", "citizen"):
        mine, base = results.get(f"sohoa {kind}"), results.get(f"bare {kind}")
        if not mine or not base or 50 not in mine or 10 not in mine:
            continue
        ratios[kind] = {
            "throughput_50_ratio": mine[50]["rps"] / base[50]["rps"],
            "p99_10_ratio": mine[10]["p99_ms"] / base[10]["p99_ms"],
        }
        t, p = ratios[kind]["throughput_50_ratio"], ratios[kind]["p99_10_ratio"]
        print(
            f"{kind}: throughput at 50 clients {t:.0%} of bare (target >= 70%)"
            f" {'ok' if t >= 0.7 else 'MISSED'}; p99 at 10 clients {p:.2f} x bare"
            f" (target <= 1.5) {'ok' if p <= 1.5 else 'MISSED'}"
        )
    print(f"audit chain after the run: {head.entries} entries, intact={ok} (first bad: {bad_id})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "records": args.records,
                "citizens": args.citizens,
                "workers": args.workers,
                "seconds": args.seconds,
                "cores": os.cpu_count(),
                "results": {k: {str(c): r for c, r in v.items()} for k, v in results.items()},
                "ratios": ratios,
                "audit_chain": {"entries": head.entries, "intact": ok},
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
