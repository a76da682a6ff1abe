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

celery_app = Celery("sohoa", include=["workers.tasks", "workers.webhooks"])

_services: Any = None


def broker_transport_options(broker_url: str) -> dict[str, Any]:
    if broker_url.startswith(("redis://", "rediss://")):
        return {
            "visibility_timeout": 3600,  # above the slowest page
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
        broker_transport_options=broker_transport_options(settings.celery_broker_url),
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.queue,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        result_expires=24 * 3600,
        task_track_started=True,
        worker_hijack_root_logger=False,
        database_create_tables_at_setup=True,
        # Run by the worker started with `sohoa worker --beat` (one per deployment).
        beat_schedule={
            "redeliver-webhooks": {"task": "sohoa.redeliver_webhooks", "schedule": 60.0},
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
