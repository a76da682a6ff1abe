"""The Celery application, configured from Settings by whoever starts it.

Brokers differ in what they accept: Redis needs its visibility and restore
intervals set (NOTES.md: a dead worker's tasks otherwise wait ~95 s), the
server-less SQLite broker must not get Redis options at all.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from config.settings import Settings, load_settings

celery_app = Celery("sohoa", include=["workers.tasks", "workers.webhooks", "workers.monitor"])

_services: Any = None


#: Time a page task gets beyond `page_timeout_s` for its reads and writes (store, database).
PAGE_IO_MARGIN_S = 30
#: How often the periodic sweep (`sohoa worker --beat`) looks for documents nobody holds.
SWEEP_EVERY_S = 300.0


def page_time_limit_s(settings: Settings) -> int:
    """Hard limit of one page task: past it the pool child is killed.

    The page's own work is cut at `page_timeout_s` inside the task (page_timeout); this
    is the backstop for C code that never returns to Python.
    """
    return settings.page_timeout_s + PAGE_IO_MARGIN_S


def visibility_timeout_s(settings: Settings) -> int:
    """Redis hands an unacknowledged task to another worker after this many seconds.

    It must exceed the longest page task, or a slow page is delivered twice while it
    runs (NOTES.md); it is also how long a killed worker's tasks wait on Redis.
    """
    return page_time_limit_s(settings) + PAGE_IO_MARGIN_S


def worker_queues(queue: str) -> tuple[str, str]:
    """The queues a worker consumes: the pipeline's, and the one `sohoa.finish` goes to."""
    return queue, f"{queue}.finish"


def broker_transport_options(broker_url: str, visibility_timeout: int = 3600) -> dict[str, Any]:
    if broker_url.startswith(("redis://", "rediss://")):
        return {
            "visibility_timeout": visibility_timeout,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
    return {}


def configure(settings: Settings) -> Celery:
    """Point the app at the settings' broker and backend; safe to call again."""
    global _services
    _services = None
    celery_app.conf.update(
        broker_url=settings.celery_broker_url,
        result_backend=settings.celery_result_backend,
        broker_transport_options=broker_transport_options(
            settings.celery_broker_url, visibility_timeout_s(settings)
        ),
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.queue,
        # finish has a queue of its own, consumed by the same workers: queued behind a
        # backlog of page tasks it would hold every finished scan back until the end.
        task_routes={"sohoa.finish": {"queue": worker_queues(settings.queue)[1]}},
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # On a lost broker connection, let the tasks in hand finish: their messages come
        # back (RabbitMQ at once, Redis after the visibility timeout) and find the work
        # stored. Cancelling them instead lost a message on Redis (measured: the cancel
        # tries to record a retry in the unreachable backend, fails, and the task is then
        # treated as revoked and acknowledged).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_prefetch_multiplier=1,
        result_expires=24 * 3600,
        task_track_started=True,
        # Task events and task-sent events feed `sohoa monitor` (workers/monitor.py);
        # Celery itself sends none over the SQL broker.
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
        database_create_tables_at_setup=True,
        # Run by the worker started with `sohoa worker --beat` (one per deployment).
        beat_schedule={
            "redeliver-webhooks": {"task": "sohoa.redeliver_webhooks", "schedule": 60.0},
            "sweep-stalled": {"task": "sohoa.sweep", "schedule": SWEEP_EVERY_S},
            "sanity-check": {"task": "sohoa.sanity_check", "schedule": 6 * 3600.0},
        },
        beat_schedule_filename=str(settings.resolved_data_dir / "celerybeat-schedule"),
    )
    celery_app.conf.sohoa_settings = settings
    _forget_connections()
    return celery_app


def _forget_connections() -> None:
    """Drop cached pools, queues and backend so a re-configured app uses the new URLs."""
    celery_app._pool = None
    celery_app.__dict__.pop("amqp", None)
    celery_app._backend_cache = None
    celery_app._local = threading.local()


@worker_process_init.connect
def _single_threaded(**_kwargs: Any) -> None:
    from pipeline.process import single_threaded

    single_threaded()


def services() -> Any:
    """The process's Services, built on first use (after fork in each pool child)."""
    global _services
    if _services is None:
        from workers.services import Services

        settings = celery_app.conf.get("sohoa_settings") or load_settings()
        _services = Services.from_settings(settings, migrate_db=False)
    return _services
