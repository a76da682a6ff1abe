"""Load test: N generated documents through 2 `sohoa worker` processes on Redis + PostgreSQL + S3.

`make bench-load` (or `python -m tests.bench.bench_load --docs 40` for a quick run).
Each run gets its own PostgreSQL database (dropped afterwards), its own queue on a
Redis DB of its own (default 11), and a bucket on a moto S3 server started in this
process on a free port. The documents alternate a two-page chip ID card (PDF) and a
one-page birth certificate (PNG), each with its own seed (so no two are the same
paper); they are rendered once and cached under var/bench/load-docs-SEED/.

Two worker processes (`sohoa worker --concurrency 1` each, in their own process
groups) are started and ready before the documents are ingested all at once; the
run ends when every document is final, or when nothing progressed for
`--stall-timeout` seconds (default: the Redis visibility timeout + 60 s, by when a
killed worker's tasks must have been handed back); then the unfinished documents
are reported: status, pages done, the task that was lost and what is still
unacknowledged in Redis. `--beat` makes worker 0 also run the periodic jobs.

Measured per run:

- throughput: pages of finished documents / (last finished_at - first created_at);
- queue wait: ingest (documents.created_at) -> the document's first `sohoa.ocr_page`
  task starting. The database has no such timestamp, so each worker runs the
  unchanged `sohoa worker` command with a Celery `task_prerun`/`task_postrun` hook
  that appends (time, task, document, page, pid) to var/bench/load-*/events/.
  The column that would give it from the database alone: `pages.started_at
  TIMESTAMPTZ NULL`, set by `sohoa.ocr_page` when it starts
  (`SET started_at = coalesce(started_at, now()), attempts = attempts + 1`);
  queue wait = min(pages.started_at) - documents.created_at;
- end-to-end latency: documents.finished_at - created_at;
- peak memory per worker: the largest sum of VmRSS over the worker's process group
  (main process, pool child, tesseract), sampled each second, and the largest VmHWM
  of any single process in it;
- check: every document final, exactly one `records` row and one `record_versions`
  row per document, no record code twice.

`--kill-every 30` (the second run by default) SIGKILLs one worker's whole process
group every 30 s, alternating between the two, and starts a new one in its place.

Prints one table per run and both side by side; writes var/bench/bench-load.json.
All documents arrive at once, so queue wait grows with a document's place in the
queue: p50 is about half the run. The machine's 2 cores are shared by the workers,
tesseract, PostgreSQL, Redis and the S3 server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VAR = ROOT / "var" / "bench"
RESULT = VAR / "bench-load.json"
REDIS_URL = os.environ.get("SOHOA_TEST_REDIS", "redis://127.0.0.1:6379")

# --------------------------------------------------------------------------- worker hook


def _worker_main(argv: list[str]) -> None:
    """`sohoa worker --concurrency 1`, with task start/end times appended to an events file."""
    parser = argparse.ArgumentParser(prog="bench_load _worker")
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--beat", action="store_true", help="also run the periodic jobs")
    args = parser.parse_args(argv)
    args.events.mkdir(parents=True, exist_ok=True)

    from celery.signals import task_postrun, task_prerun, worker_ready

    def emit(**event: Any) -> None:
        event.update(t=time.time(), pid=os.getpid(), pgid=os.getpgid(0))
        # One write per line in append mode: lines of concurrent writers never interleave.
        with (args.events / f"{os.getpid()}.jsonl").open("a") as fh:
            fh.write(json.dumps(event) + "\n")

    def task_fields(task: Any, task_args: Any) -> dict[str, Any]:
        a = list(task_args or [])
        return {
            "task": getattr(task, "name", "?"),
            "doc": a[0] if a else None,
            "page": a[1] if len(a) > 1 and isinstance(a[1], int) else None,
        }

    def on_start(task: Any = None, args: Any = None, **_: Any) -> None:
        emit(ev="start", **task_fields(task, args))

    def on_end(task: Any = None, args: Any = None, state: Any = None, **_: Any) -> None:
        emit(ev="end", state=state, **task_fields(task, args))

    def on_ready(**_: Any) -> None:
        emit(ev="ready")

    task_prerun.connect(on_start, weak=False)
    task_postrun.connect(on_end, weak=False)
    worker_ready.connect(on_ready, weak=False)

    from api.cli import app

    app(
        [
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            args.loglevel,
            *(["--beat"] if args.beat else []),
        ]
    )


def read_events(folder: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # a line cut short by SIGKILL
                events.append(json.loads(line))
    events.sort(key=lambda e: e["t"])
    return events


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class BenchDoc:
    name: str
    path: Path
    pages: int


def build_docs(count: int, seed: int) -> list[BenchDoc]:
    """Alternate two-page ID cards and one-page birth certificates; cached on disk."""
    from tests.scans import birth_certificate_png, id_card_pdf

    folder = VAR / f"load-docs-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    docs: list[BenchDoc] = []
    made = 0
    t0 = time.perf_counter()
    for i in range(count):
        s = seed + i
        card = i % 2 == 0
        path = folder / (f"{i:04d}-cccd-{s}.pdf" if card else f"{i:04d}-birth-{s}.png")
        if not path.exists():
            # __wrapped__: the uncached function (the cache would hold every file in memory)
            data = (
                id_card_pdf.__wrapped__(s)[0] if card else birth_certificate_png.__wrapped__(s)[0]
            )
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.rename(path)
            made += 1
        docs.append(BenchDoc(path.name, path, 2 if card else 1))
    if made:
        print(f"rendered {made} documents in {time.perf_counter() - t0:.0f} s ({folder})")
    return docs


# --------------------------------------------------------------------------- processes


def group_pids(pgid: int) -> list[int]:
    """Every live process in a process group (from /proc/PID/stat)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # state ppid pgrp ...
            pids.append(int(entry))
    return pids


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Worker:
    """One `sohoa worker --concurrency 1` (through the events hook) in its own process group."""

    def __init__(
        self, slot: int, incarnation: int, env: dict[str, str], run_dir: Path, beat: bool = False
    ) -> None:
        self.slot, self.incarnation = slot, incarnation
        self.log = run_dir / f"worker-{slot}-{incarnation}.log"
        self._fh = self.log.open("wb")
        self.started = time.time()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.bench_load",
                "_worker",
                "--events",
                str(run_dir / "events"),
                *(["--beat"] if beat else []),
            ],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pgid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait()
        self._fh.close()

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        self.kill()  # pool children or tesseract left behind


@dataclass
class Memory:
    tree_kb: int = 0
    process_hwm_kb: int = 0


class Fleet:
    """The two worker slots, their memory sampler and (optionally) the killer."""

    def __init__(
        self, env: dict[str, str], run_dir: Path, slots: int = 2, beat: bool = False
    ) -> None:
        self.env, self.run_dir, self.beat = env, run_dir, beat
        self.lock = threading.Lock()
        self.workers = [Worker(s, 0, env, run_dir, beat and s == 0) for s in range(slots)]
        self.memory = [Memory() for _ in range(slots)]
        self.load: list[float] = []  # the machine's 1-minute load average, each second
        self.kills: list[dict[str, Any]] = []
        self.killed_pgids: set[int] = set()
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        want = {w.proc.pid for w in self.workers}
        while time.monotonic() < deadline:
            ready = {e["pgid"] for e in read_events(self.run_dir / "events") if e["ev"] == "ready"}
            if want <= ready:
                return
            for w in self.workers:
                if not w.alive():
                    raise SystemExit(f"worker died at start:\n{w.log.read_text()[-3000:]}")
            time.sleep(0.5)
        raise SystemExit(f"workers not ready after {timeout} s")

    def start_sampler(self) -> None:
        def sample() -> None:
            while not self.stop_event.wait(1.0):
                self.load.append(os.getloadavg()[0])
                with self.lock:
                    current = list(self.workers)
                for w in current:
                    pids = group_pids(w.pgid)
                    rss = sum(status_kb(p, "VmRSS") for p in pids)
                    hwm = max((status_kb(p, "VmHWM") for p in pids), default=0)
                    m = self.memory[w.slot]
                    m.tree_kb = max(m.tree_kb, rss)
                    m.process_hwm_kb = max(m.process_hwm_kb, hwm)

        self._spawn(sample)

    def start_killer(self, every: float) -> None:
        def kill_loop() -> None:
            n = 0
            while not self.stop_event.wait(every):
                slot = n % len(self.workers)
                n += 1
                with self.lock:
                    old = self.workers[slot]
                    t = time.time()
                    old.kill()
                    self.killed_pgids.add(old.pgid)
                    self.workers[slot] = Worker(
                        slot, old.incarnation + 1, self.env, self.run_dir, self.beat and slot == 0
                    )
                self.kills.append({"t": t, "slot": slot, "pgid": old.pgid})
                print(f"  killed worker {slot} (pgid {old.pgid}), started a new one", flush=True)

        self._spawn(kill_loop)

    def _spawn(self, fn: Any) -> None:
        th = threading.Thread(target=fn, daemon=True)
        th.start()
        self._threads.append(th)

    def stop(self) -> None:
        self.stop_event.set()
        for th in self._threads:
            th.join(timeout=60)
        for w in self.workers:
            w.stop()


# --------------------------------------------------------------------------- measuring


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(q * len(v)) - 1)]


def _ts(d: datetime | None) -> float | None:
    return d.timestamp() if d is not None else None


def unacked_of_queue(redis_url: str, queue: str, delete: bool = False) -> list[dict[str, Any]]:
    """Messages a dead worker took and never acknowledged (kombu's `unacked` hash)."""
    import redis

    r = redis.Redis.from_url(redis_url)
    out = []
    for tag, raw in r.hgetall("unacked").items():
        try:
            message, _exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if routing_key != queue:
            continue
        headers = message.get("headers", {})
        out.append(
            {
                "task": headers.get("task"),
                "args": headers.get("argsrepr"),
                "delivered_s_ago": None,
            }
        )
        score = r.zscore("unacked_index", tag)
        if score is not None:
            out[-1]["delivered_s_ago"] = round(time.time() - score, 1)
        if delete:
            r.hdel("unacked", tag)
            r.zrem("unacked_index", tag)
    if delete:
        r.delete(queue)
    return out


def run_once(
    label: str, docs: list[BenchDoc], args: argparse.Namespace, kill_every: float
) -> dict[str, Any]:
    """Ingest every document into a fresh deployment served by 2 workers; measure."""
    from moto.server import ThreadedMotoServer
    from sqlalchemy import func, select

    from schemas.db import Document, DocumentStatus, Page, RecordRow, RecordVersion
    from tests.conftest import free_port, fresh_pg_database, settings_from
    from workers.app import configure
    from workers.ingest import ingest_bytes
    from workers.services import Services

    slug = "kill" if kill_every else "normal"
    run_dir = VAR / f"load-{slug}-{time.strftime('%Y%m%d-%H%M%S')}"
    (run_dir / "events").mkdir(parents=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    redis_url = f"{args.redis}/{args.redis_db}"
    queue = f"bench-load-{uuid.uuid4().hex[:8]}"
    fleet: Fleet | None = None
    try:
        with fresh_pg_database("sohoa_bench_load") as db_url:
            env = {
                "SOHOA_DATA_DIR": str(run_dir / "data"),
                "SOHOA_DATABASE_URL": db_url,
                "SOHOA_BROKER_URL": redis_url,
                "SOHOA_STORAGE_URL": f"s3://bench-load-{uuid.uuid4().hex[:8]}",
                "SOHOA_S3_ENDPOINT": f"127.0.0.1:{port}",
                "SOHOA_S3_ACCESS_KEY": "testing",
                "SOHOA_S3_SECRET_KEY": "testing",
                "SOHOA_QUEUE": queue,
            }
            settings = settings_from(env)
            visibility = configure(settings).conf.broker_transport_options.get("visibility_timeout")
            # Past the stall timeout a killed worker's tasks must have been handed back.
            stall_timeout = args.stall_timeout or float(visibility or 0) + 60
            services = Services.from_settings(settings)
            print(f"[{label}] {len(docs)} documents, 2 workers, logs in {run_dir}", flush=True)
            fleet = Fleet(env, run_dir, beat=args.beat)
            fleet.wait_ready()
            fleet.start_sampler()
            if kill_every:
                fleet.start_killer(kill_every)
            t_ingest = time.time()
            ids: list[str] = []
            for d in docs:
                ing = ingest_bytes(services, d.name, d.path.read_bytes())
                ids.append(ing.document_id)
            print(f"[{label}] ingested in {time.time() - t_ingest:.1f} s", flush=True)

            last_change, last_state, last_print = time.monotonic(), (-1, -1), 0.0
            stalled = False
            while True:
                with services.sessions() as s:
                    rows = s.execute(select(Document.status, Document.pages_done)).all()
                final = sum(1 for st, _ in rows if st in DocumentStatus.FINAL)
                pages_done = sum(p for _, p in rows)
                now = time.monotonic()
                if (final, pages_done) != last_state:
                    last_state, last_change = (final, pages_done), now
                if now - last_print > 15:
                    last_print = now
                    by = Counter(st for st, _ in rows)
                    print(
                        f"[{label}] {time.time() - t_ingest:6.0f} s  final {final}/{len(ids)}"
                        f"  pages done {pages_done}  {dict(by)}",
                        flush=True,
                    )
                if final == len(ids):
                    break
                if now - last_change > stall_timeout:
                    stalled = True
                    print(f"[{label}] no progress for {stall_timeout:.0f} s: stopping")
                    break
                time.sleep(1.0)
            t_end = time.time()
            fleet.stop()
            unacked = unacked_of_queue(redis_url, queue, delete=True)

            with services.sessions() as s:
                documents = list(s.scalars(select(Document)))
                records = Counter(
                    dict(
                        s.execute(
                            select(RecordRow.document_id, func.count()).group_by(
                                RecordRow.document_id
                            )
                        ).all()
                    )
                )
                versions = Counter(
                    dict(
                        s.execute(
                            select(RecordVersion.document_id, func.count()).group_by(
                                RecordVersion.document_id
                            )
                        ).all()
                    )
                )
                dup_codes = s.execute(
                    select(RecordRow.record_code, func.count())
                    .group_by(RecordRow.record_code)
                    .having(func.count() > 1)
                ).all()
                rescans = s.scalar(select(func.count()).where(RecordRow.version > 1)) or 0
                page_rows = defaultdict(list)
                for p in s.scalars(select(Page)):
                    page_rows[p.document_id].append((p.number, p.status))
            services.engine.dispose()
    finally:
        if fleet is not None:
            fleet.stop()
        s3.stop()

    events = read_events(run_dir / "events")
    return summarise(
        label,
        documents,
        records,
        versions,
        [c for c, _ in dup_codes],
        int(rescans),
        page_rows,
        events,
        fleet,
        unacked,
        {
            "t_ingest": t_ingest,
            "t_end": t_end,
            "stalled": stalled,
            "kill_every": kill_every,
            "visibility_timeout": visibility,
        },
    )


def summarise(
    label: str,
    documents: list[Any],
    records: Counter[str],
    versions: Counter[str],
    dup_codes: list[str],
    rescans: int,
    page_rows: dict[str, list[tuple[int, str]]],
    events: list[dict[str, Any]],
    fleet: Fleet,
    unacked: list[dict[str, Any]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    from schemas.db import DocumentStatus

    first_start: dict[str, float] = {}
    raster_start: dict[str, float] = {}
    open_tasks: dict[tuple[Any, ...], float] = {}
    starts = Counter[str]()
    pgids = {e["pid"]: e["pgid"] for e in events}
    for e in events:
        if e["ev"] == "start":
            starts[e["task"]] += 1
            if e["task"] == "sohoa.ocr_page":
                first_start.setdefault(e["doc"], e["t"])
            elif e["task"] == "sohoa.rasterise":
                raster_start.setdefault(e["doc"], e["t"])
        key = (e["pid"], e.get("task"), e.get("doc"), e.get("page"))
        if e["ev"] == "start":
            open_tasks[key] = e["t"]
        elif e["ev"] == "end":
            open_tasks.pop(key, None)
    lost = [
        {"task": k[1], "doc": k[2], "page": k[3], "started": round(t - meta["t_ingest"], 1)}
        for k, t in open_tasks.items()
        if pgids.get(k[0]) in fleet.killed_pgids
    ]

    final = [d for d in documents if d.status in DocumentStatus.FINAL]
    finished = [d for d in final if d.finished_at is not None]
    done_ok = [d for d in final if d.status in (DocumentStatus.ready, DocumentStatus.needs_review)]
    pages = sum(d.page_count for d in done_ok)
    t0 = min((_ts(d.created_at) or 0.0) for d in documents) if documents else 0.0
    t1 = max((_ts(d.finished_at) or 0.0) for d in finished) if finished else t0
    wall = t1 - t0
    waits = [
        first_start[d.id] - (_ts(d.created_at) or 0.0) for d in documents if d.id in first_start
    ]
    raster_waits = [
        raster_start[d.id] - (_ts(d.created_at) or 0.0) for d in documents if d.id in raster_start
    ]
    e2e = [(_ts(d.finished_at) or 0.0) - (_ts(d.created_at) or 0.0) for d in finished]
    not_one_record = {d.id: records.get(d.id, 0) for d in done_ok if records.get(d.id, 0) != 1}
    not_one_version = {d.id: versions.get(d.id, 0) for d in done_ok if versions.get(d.id, 0) != 1}
    unfinished = [
        {
            "document": d.id,
            "source": d.source,
            "status": d.status,
            "pages_done": d.pages_done,
            "page_count": d.page_count,
            "pages": sorted(page_rows.get(d.id, [])),
            "lost_tasks": [x for x in lost if x["doc"] == d.id],
        }
        for d in documents
        if d.status not in DocumentStatus.FINAL
    ]

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 1)

    return {
        "run": label,
        "kill_every_s": meta["kill_every"],
        "documents": len(documents),
        "final": len(final),
        "statuses": dict(Counter(d.status for d in documents)),
        "pages": pages,
        "wall_s": r(wall),
        "pages_per_min": r(60 * pages / wall) if wall > 0 else None,
        "rasterise_wait_s": {"p50": r(pct(raster_waits, 0.5)), "p95": r(pct(raster_waits, 0.95))},
        "queue_wait_s": {"p50": r(pct(waits, 0.5)), "p95": r(pct(waits, 0.95))},
        "end_to_end_s": {"p50": r(pct(e2e, 0.5)), "p95": r(pct(e2e, 0.95))},
        "peak_rss_mb": [
            {
                "worker": i,
                "tree": r(m.tree_kb / 1024),
                "largest_process": r(m.process_hwm_kb / 1024),
            }
            for i, m in enumerate(fleet.memory)
        ],
        "load_avg_1min": {
            "mean": r(sum(fleet.load) / len(fleet.load)) if fleet.load else None,
            "max": r(max(fleet.load, default=0.0)),
            "cores": os.cpu_count(),
        },
        "kills": len(fleet.kills),
        "task_starts": dict(starts),
        "tasks_lost_in_killed_workers": lost,
        "unacked_left_in_redis": unacked,
        "stalled": meta["stalled"],
        "visibility_timeout_s": meta["visibility_timeout"],
        "check": {
            "all_final": len(final) == len(documents),
            "docs_without_exactly_one_record": not_one_record,
            "docs_without_exactly_one_version": not_one_version,
            "duplicate_record_codes": dup_codes,
            "rescans_merged": rescans,
        },
        "unfinished": unfinished,
    }


# --------------------------------------------------------------------------- printing


def table_rows(res: dict[str, Any]) -> list[tuple[str, str]]:
    def sec(d: dict[str, Any]) -> str:
        return f"{d['p50']} / {d['p95']}"

    c = res["check"]
    one = (
        c["all_final"]
        and not c["docs_without_exactly_one_record"]
        and not c["docs_without_exactly_one_version"]
        and not c["duplicate_record_codes"]
    )
    return [
        ("documents final", f"{res['final']}/{res['documents']}"),
        ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(res["statuses"].items()))),
        ("pages (finished documents)", str(res["pages"])),
        ("wall s (first ingest -> last finish)", str(res["wall_s"])),
        ("throughput pages/min", str(res["pages_per_min"])),
        ("queue wait s p50 / p95 (-> 1st page task)", sec(res["queue_wait_s"])),
        ("  (ingest -> rasterise task starts)", sec(res["rasterise_wait_s"])),
        ("end-to-end s p50 / p95", sec(res["end_to_end_s"])),
        *[
            (
                f"peak RSS MB worker {m['worker']} (tree / 1 process)",
                f"{m['tree']} / {m['largest_process']}",
            )
            for m in res["peak_rss_mb"]
        ],
        (
            "machine load avg mean / max (cores)",
            "{mean} / {max} ({cores})".format(**res["load_avg_1min"])
            if "load_avg_1min" in res
            else "-",
        ),
        ("workers killed", str(res["kills"])),
        ("tasks lost in killed workers", str(len(res["tasks_lost_in_killed_workers"]))),
        (
            "docs with != 1 record",
            str(len(c["docs_without_exactly_one_record"])),
        ),
        ("duplicate record codes", str(len(c["duplicate_record_codes"]))),
        ("every document final, exactly one record", "yes" if one else "NO"),
    ]


def print_table(results: list[dict[str, Any]]) -> None:
    rows = [table_rows(r) for r in results]
    width = max(len(name) for name, _ in rows[0])
    head = f"{'':{width}}" + "".join(f"  {r['run']:>30}" for r in results)
    print(head)
    for i, (name, _) in enumerate(rows[0]):
        print(f"{name:{width}}" + "".join(f"  {rr[i][1]:>30}" for rr in rows))
    for r in results:
        for u in r["unfinished"][:20]:
            lost = "; ".join(
                f"{x['task']} page {x['page']} (started at {x['started']} s)"
                for x in u["lost_tasks"]
            )
            print(
                f"  [{r['run']}] unfinished {u['document']} {u['source']}: status {u['status']},"
                f" pages {u['pages_done']}/{u['page_count']} {u['pages']}"
                + (f", lost: {lost}" if lost else "")
            )
        if len(r["unfinished"]) > 20:
            print(f"  [{r['run']}] ... {len(r['unfinished']) - 20} more unfinished")
        if r["unacked_left_in_redis"]:
            by = Counter(x["task"] for x in r["unacked_left_in_redis"])
            print(
                f"  [{r['run']}] unacked in Redis (taken by killed workers): {dict(by)};"
                f" Redis gives them back after visibility_timeout"
                f" = {r['visibility_timeout_s']} s (workers/app.py)"
            )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_worker"]:
        _worker_main(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=500, help="documents per run")
    parser.add_argument("--seed", type=int, default=60000)
    parser.add_argument(
        "--runs", choices=("both", "normal", "kill"), default="both", help="which runs"
    )
    parser.add_argument(
        "--kill-every", type=float, default=30.0, help="seconds between kills in the kill run"
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=0.0,
        help="end a run when no page or document finished for this long"
        " (default: the broker's visibility timeout + 60 s)",
    )
    parser.add_argument(
        "--beat",
        action="store_true",
        help="worker 0 also runs the periodic jobs (`sohoa worker --beat`)",
    )
    parser.add_argument("--redis", default=REDIS_URL)
    parser.add_argument("--redis-db", type=int, default=11, help="a Redis DB of the bench's own")
    args = parser.parse_args(argv)

    docs = build_docs(args.docs, args.seed)
    results: list[dict[str, Any]] = []
    if args.runs in ("both", "normal"):
        results.append(run_once("normal", docs, args, 0))
        print_table(results[-1:])
    if args.runs in ("both", "kill"):
        results.append(run_once(f"kill every {args.kill_every:g} s", docs, args, args.kill_every))
        print_table(results[-1:])
    if len(results) > 1:
        print()
        print_table(results)
    VAR.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "docs": args.docs,
                "seed": args.seed,
                "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "runs": results,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
