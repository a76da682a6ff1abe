"""Monitoring: Prometheus metrics from Celery events and the database, and the dashboard's data.

Three sources, each used where it is the truth:

* Celery task events and heartbeats (`EventMetrics`, run by `sohoa monitor`): every
  worker's tasks counted as they happen, durations as histograms. Celery sends no
  events over the server-less SQL broker (it disables them for that transport), so
  on the embedded default these metrics stay at zero.
* The database, read at scrape time (`DbCollector`, in `sohoa monitor` and the API's
  `/metrics`): what is waiting in each stage, documents by status, rejected inputs by
  error code, OCR confidence, workers online.
* The workers' own measurements (`schemas.monitoring`): each worker records how
  long each stage task took and sends a heartbeat row, on every broker. The admin
  dashboard's p50/p95 and "workers online" come from there.

Labels are stages, outcomes, error codes, statuses and worker names: never file
names, record codes or anything read from a paper.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_init, worker_ready, worker_shutdown
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from pipeline import errors
from schemas.db import Document, DocumentStatus, Page, make_engine, make_sessionmaker, utcnow
from schemas.monitoring import StageRun, WorkerBeat
from schemas.webhooks import DeliveryStatus, WebhookDelivery
from workers.app import celery_app

log = logging.getLogger(__name__)

#: The pipeline's stage tasks, by the stage name used in every label.
STAGES = ("rasterise", "ocr_page", "finish", "deliver_webhook")
TASK_STAGES = {f"sohoa.{stage}": stage for stage in STAGES}
OUTCOMES = ("succeeded", "failed", "retried")
#: Stage task seconds: a triage takes milliseconds, a bad page minutes (page_timeout_s).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120, 300, 600)
WAIT_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)

# Document statuses other engineers may add (a poison page parks its document).
PARKED = getattr(DocumentStatus, "parked", "parked")
QUARANTINED = getattr(DocumentStatus, "quarantined", "quarantined")
#: What an admin sees under "failures"; all but rejected can be retried.
FAILURE_STATUSES = (DocumentStatus.rejected, DocumentStatus.failed, PARKED, QUARANTINED)
RETRYABLE = frozenset({DocumentStatus.failed, PARKED, QUARANTINED})

#: Workers write a heartbeat row this often; one silent for ONLINE_WINDOW_S is offline.
HEARTBEAT_S = 10.0
ONLINE_WINDOW_S = 3 * HEARTBEAT_S
#: Stage runs older than this are pruned (the dashboard looks at the last hour).
RUN_RETENTION = timedelta(days=2)
#: Workers unseen for this long drop off the dashboard (names change with every start).
WORKER_RETENTION = timedelta(hours=24)

_ERROR_CODES = {cls.__name__: cls.code for cls in errors.ALL_ERRORS}
_EXCEPTION_NAME = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\(")


def as_utc(at: datetime) -> datetime:
    """SQLite gives back naive times; they are UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def error_code_of(exception: str | None) -> str:
    """The stable error code of a task-failed event's exception text, never the text itself."""
    match = _EXCEPTION_NAME.match(exception or "")
    return _ERROR_CODES.get(match.group(1), "internal_error") if match else "internal_error"


# --------------------------------------------------------------------------- events


@dataclass
class _Task:
    stage: str
    state: str  # queued | running
    sent_at: float | None = None
    started_at: float | None = None
    seen: float = 0.0


class EventMetrics(Collector):
    """Turns Celery's task events and worker heartbeats into Prometheus metrics.

    Fed by one event receiver (`capture`); the counters therefore count every worker
    on the broker. Queued and running gauges follow each task id from sent to its end.
    With `queue`, only tasks published to that queue count: deployments (or test runs)
    sharing a broker each see their own (a task's later events carry no queue, so they
    are matched by task id).
    """

    #: A task not heard of for this long is dropped from the gauges (its end was missed).
    STALE_S = 6 * 3600.0

    def __init__(self, registry: CollectorRegistry, queue: str | None = None) -> None:
        self.queue = queue
        self.sent = Counter(
            "sohoa_tasks_sent", "Stage tasks published to the broker.", ["stage"], registry=registry
        )
        self.ended = Counter(
            "sohoa_tasks",
            "Stage tasks that ended, by outcome (succeeded, failed, retried); ocr_page counts"
            " pages, the other stages documents (deliver_webhook: deliveries).",
            ["stage", "outcome"],
            registry=registry,
        )
        self.failures = Counter(
            "sohoa_task_failures",
            "Failed stage tasks by error code.",
            ["stage", "error_code"],
            registry=registry,
        )
        self.duration = Histogram(
            "sohoa_task_duration_seconds",
            "Run time of succeeded stage tasks (Celery's runtime).",
            ["stage"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.wait = Histogram(
            "sohoa_task_wait_seconds",
            "Time from publishing a stage task to a worker starting it.",
            ["stage"],
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.queued = Gauge(
            "sohoa_tasks_queued",
            "Stage tasks published and not yet started (seen by the monitor).",
            ["stage"],
            registry=registry,
        )
        self.running = Gauge(
            "sohoa_tasks_running",
            "Stage tasks started and not ended.",
            ["stage"],
            registry=registry,
        )
        self.events = Counter(
            "sohoa_monitor_events", "Celery events received.", ["type"], registry=registry
        )
        for stage in STAGES:
            self.sent.labels(stage)
            self.duration.labels(stage)
            self.wait.labels(stage)
            self.queued.labels(stage).set(0)
            self.running.labels(stage).set(0)
            for outcome in OUTCOMES:
                self.ended.labels(stage, outcome)
        self._tasks: dict[str, _Task] = {}
        self._workers: dict[str, tuple[float, float]] = {}  # name -> (last heartbeat, freq)
        self._lock = threading.Lock()
        self._handled = 0
        registry.register(self)

    # Collector: the per-worker gauge is computed when scraped (a dead worker sends nothing).
    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "sohoa_celery_worker_up",
            "1 while a worker's Celery heartbeats arrive, 0 once they stop or it went offline.",
            labels=["worker"],
        )
        now = time.time()
        with self._lock:
            workers = dict(self._workers)
        for name, (last, freq) in sorted(workers.items()):
            up.add_metric([name], 1.0 if now - last <= max(freq, 1.0) * 2.5 else 0.0)
        yield up

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("sohoa_celery_worker_up", "", labels=["worker"])]

    def workers_online(self) -> int:
        now = time.time()
        with self._lock:
            return sum(now - last <= max(freq, 1.0) * 2.5 for last, freq in self._workers.values())

    def handle(self, event: dict[str, Any]) -> None:
        """One event from the receiver; unknown and foreign tasks are ignored."""
        kind = str(event.get("type", ""))
        self.events.labels(kind).inc()
        if kind.startswith("worker-"):
            self._worker(kind, event)
            return
        uuid = event.get("uuid")
        if not kind.startswith("task-") or not isinstance(uuid, str):
            return
        ts = float(event.get("timestamp") or time.time())
        task = self._tasks.get(uuid)
        stage = TASK_STAGES.get(str(event.get("name") or ""))
        if kind == "task-sent":
            if stage is None or not self._ours(event):
                return
            if task is not None:  # a retry publishes the same id again
                self._leave(task)
            self._tasks[uuid] = _Task(stage, "queued", sent_at=ts, seen=time.time())
            self.sent.labels(stage).inc()
            self.queued.labels(stage).inc()
        elif kind == "task-received":
            if task is None and stage is not None and self.queue is None:
                # Published before the monitor started (with a queue filter: unknown, skipped).
                self._tasks[uuid] = _Task(stage, "queued", seen=time.time())
                self.queued.labels(stage).inc()
        elif task is None:
            return
        elif kind == "task-started":
            if task.state == "queued":
                self.queued.labels(task.stage).dec()
                self.running.labels(task.stage).inc()
                if task.sent_at is not None:
                    self.wait.labels(task.stage).observe(max(0.0, ts - task.sent_at))
            task.state, task.started_at, task.seen = "running", ts, time.time()
        elif kind == "task-succeeded":
            self.ended.labels(task.stage, "succeeded").inc()
            runtime = event.get("runtime")
            if runtime is None and task.started_at is not None:
                runtime = ts - task.started_at
            if runtime is not None:
                self.duration.labels(task.stage).observe(max(0.0, float(runtime)))
            self._forget(uuid, task)
        elif kind == "task-failed":
            self.ended.labels(task.stage, "failed").inc()
            self.failures.labels(task.stage, error_code_of(event.get("exception"))).inc()
            self._forget(uuid, task)
        elif kind == "task-retried":
            self.ended.labels(task.stage, "retried").inc()
            if task.state == "running":  # not yet re-published: it ends here
                self._forget(uuid, task)
        elif kind in ("task-rejected", "task-revoked"):
            self._forget(uuid, task)
        self._handled += 1
        if self._handled % 1000 == 0:
            self._prune()

    def _ours(self, event: dict[str, Any]) -> bool:
        if self.queue is None:
            return True
        from workers.app import worker_queues

        return bool({event.get("queue"), event.get("routing_key")} & set(worker_queues(self.queue)))

    def _worker(self, kind: str, event: dict[str, Any]) -> None:
        name = str(event.get("hostname") or "")
        if not name:
            return
        freq = float(event.get("freq") or 2.0)
        with self._lock:
            self._workers[name] = (0.0 if kind == "worker-offline" else time.time(), freq)

    def _leave(self, task: _Task) -> None:
        (self.queued if task.state == "queued" else self.running).labels(task.stage).dec()

    def _forget(self, uuid: str, task: _Task) -> None:
        self._leave(task)
        self._tasks.pop(uuid, None)

    def _prune(self) -> None:
        horizon = time.time() - self.STALE_S
        for uuid, task in list(self._tasks.items()):
            if task.seen < horizon:
                self._forget(uuid, task)

    def capture(self, stop: threading.Event | None = None, retry_s: float = 2.0) -> None:
        """Receive events from the configured broker until `stop` is set; reconnect on errors."""
        stop = stop or threading.Event()
        if not events_supported(celery_app.conf.broker_url):
            log.warning("the SQL broker carries no Celery events: event metrics stay at zero")
            stop.wait()
            return
        while not stop.is_set():
            try:
                with celery_app.connection_for_read() as conn:
                    receiver = celery_app.events.Receiver(conn, handlers={"*": self.handle})
                    watcher = threading.Thread(
                        target=_stop_when, args=(stop, receiver), daemon=True
                    )
                    watcher.start()
                    receiver.capture(limit=None, timeout=None, wakeup=True)
            except Exception as exc:  # broker restarts: keep serving the last values
                if stop.is_set():
                    break
                log.warning("event receiver: %s; reconnecting", type(exc).__name__)
                stop.wait(retry_s)


def _stop_when(stop: threading.Event, receiver: Any) -> None:
    stop.wait()
    receiver.should_stop = True


def events_supported(broker_url: str) -> bool:
    """Celery disables events on the SQLAlchemy transport (the embedded default)."""
    return not broker_url.startswith(("sqla+", "sqlalchemy+"))


# --------------------------------------------------------------------------- database


def queue_depths(session: Session) -> dict[str, int]:
    """Work waiting in (or being done by) each stage, read from the rows' statuses."""
    rasterise = session.scalar(
        select(func.count())
        .select_from(Document)
        .where(Document.status.in_([DocumentStatus.received, DocumentStatus.rasterising]))
    )
    pages = session.scalar(
        select(func.count())
        .select_from(Page)
        .join(Document, Document.id == Page.document_id)
        .where(Document.status == DocumentStatus.ocr, Page.status != "done")
    )
    finish = session.scalar(
        select(func.count())
        .select_from(Document)
        .where(
            (Document.status == DocumentStatus.classifying)
            | (
                (Document.status == DocumentStatus.ocr)
                & (Document.page_count > 0)
                & (Document.pages_done >= Document.page_count)
            )
        )
    )
    webhooks = session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.status == DeliveryStatus.pending)
    )
    return {
        "rasterise": int(rasterise or 0),
        "ocr_page": int(pages or 0),
        "finish": int(finish or 0),
        "deliver_webhook": int(webhooks or 0),
    }


def pages_per_minute(session: Session, now: datetime | None = None) -> list[tuple[datetime, int]]:
    """Pages read in each of the last 60 minutes (oldest first, the current minute last)."""
    end = (now or utcnow()).astimezone(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=59)
    counts = dict.fromkeys((start + timedelta(minutes=i) for i in range(60)), 0)
    stamps = session.scalars(
        select(Page.updated_at).where(Page.status == "done", Page.updated_at >= start)
    )
    for at in stamps:
        minute = as_utc(at).replace(second=0, microsecond=0)
        if minute in counts:
            counts[minute] += 1
    return sorted(counts.items())


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    value = sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)
    return round(value, 3)


def stage_seconds(
    session: Session, since: timedelta = timedelta(hours=1), now: datetime | None = None
) -> dict[str, dict[str, float | None]]:
    """p50 and p95 of each stage's succeeded runs in the window, as the workers measured them."""
    start = (now or utcnow()) - since
    out: dict[str, dict[str, float | None]] = {}
    for stage in STAGES:
        values = sorted(
            session.scalars(
                select(StageRun.seconds)
                .where(
                    StageRun.stage == stage,
                    StageRun.outcome == "succeeded",
                    StageRun.finished_at >= start,
                )
                .order_by(StageRun.id.desc())
                .limit(50_000)
            )
        )
        out[stage] = {"p50": percentile(values, 0.5), "p95": percentile(values, 0.95)}
    return out


@dataclass(frozen=True)
class WorkerSeen:
    name: str
    online: bool
    last_seen: datetime | None


def workers_seen(session: Session, now: datetime | None = None) -> list[WorkerSeen]:
    """Workers heard from in the last day: online while their heartbeat row is fresh."""
    now = now or utcnow()
    rows = session.scalars(
        select(WorkerBeat)
        .where(WorkerBeat.last_seen >= now - WORKER_RETENTION)
        .order_by(WorkerBeat.last_seen.desc())
    )
    fresh = now - timedelta(seconds=ONLINE_WINDOW_S)
    return [
        WorkerSeen(
            name=row.name,
            online=row.stopped_at is None and as_utc(row.last_seen) >= fresh,
            last_seen=as_utc(row.last_seen),
        )
        for row in rows
    ]


class DbCollector(Collector):
    """Metrics computed from the database at scrape time (cheap aggregate queries).

    Registered in `sohoa monitor` and served by the API's `/metrics`; both show the
    same numbers because both read the same rows.
    """

    def __init__(self, sessions: sessionmaker[Any], settings: Settings | None = None) -> None:
        self.sessions = sessions
        self.settings = settings

    def describe(self) -> Iterable[Metric]:
        return []  # computed at scrape time: no query when registering

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("sohoa_database_up", "1 when the metrics query succeeded.")
        try:
            with self.sessions() as session:
                families = list(self._families(session))
        except SQLAlchemyError as exc:
            log.warning("metrics: database query failed: %s", type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from families
        if self.settings is not None:
            yield from broker_queue_metrics(self.settings)

    def _families(self, session: Session) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "sohoa_queue_depth",
            "Work waiting in each stage, from the database: documents for rasterise and"
            " finish, pages for ocr_page, pending deliveries for deliver_webhook.",
            labels=["stage"],
        )
        for stage, n in queue_depths(session).items():
            depth.add_metric([stage], n)
        yield depth

        by_status = GaugeMetricFamily(
            "sohoa_documents", "Documents (ingested files) by status.", labels=["status"]
        )
        for status, n in session.execute(
            select(Document.status, func.count()).group_by(Document.status)
        ):
            by_status.add_metric([status], n)
        yield by_status

        rejected = CounterMetricFamily(
            "sohoa_rejected_inputs",
            "Files refused as input (status rejected), by error code.",
            labels=["error_code"],
        )
        failed = GaugeMetricFamily(
            "sohoa_failed_documents",
            "Documents now failed, parked or quarantined (retryable), by error code.",
            labels=["status", "error_code"],
        )
        for status, code, n in session.execute(
            select(Document.status, Document.error_code, func.count())
            .where(Document.status.in_(FAILURE_STATUSES))
            .group_by(Document.status, Document.error_code)
        ):
            if status == DocumentStatus.rejected:
                rejected.add_metric([code or "internal_error"], n)
            else:
                failed.add_metric([status, code or "internal_error"], n)
        yield rejected
        yield failed

        pages = CounterMetricFamily("sohoa_pages_done", "Pages read (OCR finished), all time.")
        pages.add_metric([], session.scalar(select(func.count()).where(Page.status == "done")) or 0)
        yield pages

        yield self._confidence(session)

        online = GaugeMetricFamily(
            "sohoa_workers_online", "Workers whose heartbeat row is fresh (every broker)."
        )
        online.add_metric([], sum(w.online for w in workers_seen(session)))
        yield online

        recent = GaugeMetricFamily(
            "sohoa_stage_recent_seconds",
            "p50/p95 of each stage's succeeded runs over the last hour, as the workers"
            " measured them (also on the SQL broker, which carries no events).",
            labels=["stage", "quantile"],
        )
        for stage, qs in stage_seconds(session).items():
            for name, q in (("p50", "0.5"), ("p95", "0.95")):
                value = qs[name]
                if value is not None:
                    recent.add_metric([stage, q], value)
        yield recent

    def _confidence(self, session: Session) -> Metric:
        buckets = [
            func.sum(case((Page.mean_confidence <= b, 1), else_=0)) for b in CONFIDENCE_BUCKETS
        ]
        row = session.execute(
            select(func.count(), func.sum(Page.mean_confidence), *buckets).where(
                Page.status == "done", Page.mean_confidence.is_not(None)
            )
        ).one()
        count, total = int(row[0] or 0), float(row[1] or 0.0)
        cumulative = [
            (str(b), int(n or 0)) for b, n in zip(CONFIDENCE_BUCKETS, row[2:], strict=True)
        ]
        return HistogramMetricFamily(
            "sohoa_ocr_confidence",
            "Mean OCR word confidence (0-1) of each page read.",
            buckets=[*cumulative, ("+Inf", count)],
            sum_value=total,
        )


def broker_queue_metrics(settings: Settings) -> Iterator[Metric]:
    """Messages waiting in the broker's queue (passive declare: Redis, RabbitMQ, SQL alike)."""
    family = GaugeMetricFamily(
        "sohoa_broker_queue_messages",
        "Messages waiting in the Celery queue on the broker (not yet delivered to a worker).",
        labels=["queue"],
    )
    from workers.app import worker_queues

    counts: dict[str, int] = {}
    try:
        with celery_app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            with conn.channel() as channel:
                for queue in worker_queues(settings.queue):
                    try:
                        ok = channel.queue_declare(queue=queue, passive=True)
                        counts[queue] = int(ok.message_count)
                    except Exception as exc:  # the queue does not exist until declared
                        if "NOT_FOUND" not in str(exc) and "404" not in str(exc):
                            raise
                        counts[queue] = 0
    except Exception as exc:  # the broker is down: say nothing rather than a wrong 0
        log.warning("metrics: broker queue depth unavailable: %s", type(exc).__name__)
        return
    for queue, count in counts.items():
        family.add_metric([queue], count)
    yield family


def db_registry(sessions: sessionmaker[Any], settings: Settings | None = None) -> CollectorRegistry:
    """A registry holding only the database collector (the API's /metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DbCollector(sessions, settings))
    return registry


# --------------------------------------------------------------------------- retry


class NotRetryable(Exception):
    """The document is not failed, parked or quarantined (a rejected input is permanent)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(status)


@dataclass(frozen=True)
class Reset:
    """What a retry changed, so that a failed enqueue can put it back."""

    document_id: str
    status: str
    error_code: str | None
    error_message: str | None
    finished_at: datetime | None


def reset_for_retry(session: Session, document_id: str) -> Reset | None:
    """Put a failed or parked document back to received, errors cleared (not committed).

    The pages are left as they are, as `sohoa retry` leaves them: pages already read
    are skipped, and a page's crash count still tells a poison page. None if there is
    no such document. (`workers.tasks.requeue`, behind `sohoa retry`, only selects
    documents still parked or failed, so the API resets first and queues itself.)
    """
    doc = session.get(Document, document_id, with_for_update=True)
    if doc is None:
        return None
    if doc.status not in RETRYABLE:
        raise NotRetryable(doc.status)
    before = Reset(doc.id, doc.status, doc.error_code, doc.error_message, doc.finished_at)
    doc.status = DocumentStatus.received
    doc.error_code = None
    doc.error_message = None
    doc.finished_at = None
    session.flush()
    return before


def enqueue_retry(session: Session, reset: Reset) -> None:
    """Queue the document from the start; if the broker refuses, restore its failure."""
    from workers.tasks import rasterise_document

    try:
        rasterise_document.delay(reset.document_id)
    except Exception:
        session.execute(
            update(Document)
            .where(Document.id == reset.document_id)
            .values(
                status=reset.status,
                error_code=reset.error_code,
                error_message=reset.error_message,
                finished_at=reset.finished_at,
            )
        )
        session.commit()
        raise


def retry_document(sessions: sessionmaker[Any], document_id: str) -> bool:
    """Reset and re-queue one document; False if it does not exist. Raises NotRetryable."""
    with sessions() as session:
        reset = reset_for_retry(session, document_id)
        if reset is None:
            return False
        session.commit()
        enqueue_retry(session, reset)
    return True


# --------------------------------------------------------------------------- in the workers

_in_worker = False
_started: dict[str, float] = {}
_beat_stop = threading.Event()
_beat_thread: threading.Thread | None = None
_OUTCOME = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}


@worker_init.connect
def _mark_worker(**_kwargs: Any) -> None:
    """Only worker processes record runs (tests and the API may run tasks in-process)."""
    global _in_worker
    _in_worker = True


@task_prerun.connect
def _task_started(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    if _in_worker and task_id and getattr(task, "name", None) in TASK_STAGES:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _task_ended(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_kwargs: Any
) -> None:
    """One stage_runs row per stage task; never lets a monitoring failure fail the task."""
    began = _started.pop(task_id or "", None)
    stage = TASK_STAGES.get(getattr(task, "name", None) or "")
    if began is None or stage is None:
        return
    seconds = time.monotonic() - began
    outcome = _OUTCOME.get(state or "", "failed")
    worker = str(getattr(getattr(task, "request", None), "hostname", None) or "unknown")
    try:
        from workers.app import services

        with services().sessions() as session:
            session.add(StageRun(stage=stage, outcome=outcome, seconds=seconds, worker=worker))
            session.commit()
    except Exception as exc:
        log.warning("stage run not recorded: %s", type(exc).__name__)


def _beat_once(sessions: sessionmaker[Any], name: str, prune: bool) -> None:
    now = utcnow()
    with sessions() as session:
        row = session.get(WorkerBeat, name)
        if row is None:
            session.add(WorkerBeat(name=name, started_at=now, last_seen=now))
        else:
            row.last_seen, row.stopped_at = now, None
        if prune:
            session.execute(delete(StageRun).where(StageRun.finished_at < now - RUN_RETENTION))
            session.execute(delete(WorkerBeat).where(WorkerBeat.last_seen < now - WORKER_RETENTION))
        session.commit()


def _beat_loop(db_url: str, name: str, stop: threading.Event) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    beats = 0
    while True:
        try:
            _beat_once(sessions, name, prune=beats % 60 == 0)
        except Exception as exc:
            log.warning("heartbeat not recorded: %s", type(exc).__name__)
        finally:
            engine.dispose()  # hold no connection a forked pool child could inherit
        beats += 1
        if stop.wait(HEARTBEAT_S):
            break
    try:
        with sessions() as session:
            session.execute(
                update(WorkerBeat).where(WorkerBeat.name == name).values(stopped_at=utcnow())
            )
            session.commit()
    except Exception as exc:
        log.warning("worker stop not recorded: %s", type(exc).__name__)
    finally:
        engine.dispose()


def _settings() -> Settings:
    from config.settings import load_settings

    settings = celery_app.conf.get("sohoa_settings")
    return settings if isinstance(settings, Settings) else load_settings()


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_kwargs: Any) -> None:
    """Each worker's main process writes its heartbeat row every HEARTBEAT_S."""
    global _beat_thread
    name = str(getattr(sender, "hostname", None) or "unknown")
    _beat_stop.clear()
    _beat_thread = threading.Thread(
        target=_beat_loop,
        args=(_settings().db_url, name, _beat_stop),
        name="sohoa-heartbeat",
        daemon=True,
    )
    _beat_thread.start()


@worker_shutdown.connect
def _stop_heartbeat(**_kwargs: Any) -> None:
    _beat_stop.set()
    if _beat_thread is not None:
        _beat_thread.join(timeout=5)


# --------------------------------------------------------------------------- sohoa monitor


def serve(settings: Settings, port: int, host: str, stop: threading.Event | None = None) -> None:
    """`sohoa monitor`: /metrics on host:port, fed by events and the database, until stopped."""
    from prometheus_client import start_http_server

    from workers.app import configure

    configure(settings)
    engine = make_engine(settings.db_url)
    registry = CollectorRegistry(auto_describe=True)
    metrics = EventMetrics(registry, queue=settings.queue)
    registry.register(DbCollector(make_sessionmaker(engine), settings))
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("monitor: metrics on http://%s:%d/metrics", host, port)
    try:
        metrics.capture(stop)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        engine.dispose()
