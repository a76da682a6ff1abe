"""Webhooks: announce record events to subscribed systems, signed, retried, logged.

Outbox: `emit_event` adds one pending delivery per matching subscription to the
caller's session without committing, so the announcement commits or rolls back
with the change it announces; after the commit the caller calls `dispatch`.

Each attempt (`attempt_delivery`) first claims the row with one conditional
UPDATE (pending, due, then pushed a lease into the future), so two workers given
the same delivery (a redelivered message, the sweep) do not both send it, and a
delivered or failed delivery is never sent again. Delivery is at least once: a
worker that dies after sending but before recording sends again after the
lease, so receivers dedupe on `event_id`.

Logs name deliveries, subscriptions and hosts, never payloads or full URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from config.settings import Settings
from schemas.db import utcnow
from schemas.webhooks import (
    EVENTS,
    DeliveryStatus,
    WebhookDelivery,
    WebhookPayload,
    WebhookSubscription,
)
from workers.app import celery_app, services

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO; a receiver's URL may hold its own token.
logging.getLogger("httpx").setLevel(logging.WARNING)

SIGNATURE_HEADER = "X-Sohoa-Signature"
EVENT_HEADER = "X-Sohoa-Event"
DELIVERY_HEADER = "X-Sohoa-Delivery"
USER_AGENT = "sohoa-webhooks/1"
#: Tolerance receivers should allow between the signature's time and their clock.
DEFAULT_TOLERANCE_S = 300
#: A claimed attempt owns the row this long beyond the request's timeout.
LEASE_MARGIN_S = 30.0
#: A message may arrive this early (clocks of two hosts) and still be due.
CLOCK_SLACK_S = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for a receiver and how to space attempts (Settings.webhook_*)."""

    timeout_s: float = 10.0
    max_attempts: int = 12
    backoff_base_s: float = 10.0
    backoff_max_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            backoff_base_s=settings.webhook_backoff_base_s,
            backoff_max_s=settings.webhook_backoff_max_s,
        )

    def backoff_s(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        """Wait after the `attempts`-th failure: base x 2^(n-1), capped, then ±20 % jitter.

        The jitter spreads retries of many deliveries to one receiver that came back.
        """
        delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, attempts - 1))
        return float(delay * (0.8 + 0.4 * rand()))


# ---- signatures -------------------------------------------------------------------------


def new_secret() -> str:
    """A subscription's signing secret (shown to its owner once)."""
    return "whsec_" + secrets.token_urlsafe(32)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Sohoa-Signature` value: `t=<unix ts>,v1=<hex HMAC-SHA256(secret, "t.body")>`."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes | str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `header` signs exactly `body` with `secret` within `tolerance_s` of `now`.

    The one definition receivers (docs/webhooks.md) and tests use. The time check
    stops a captured delivery from being replayed later; several `v1=` values are
    accepted so a receiver can check during a secret rotation.
    """
    if not header:
        return False
    raw = body.encode() if isinstance(body, str) else body
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, timestamp, raw)
    return any(hmac.compare_digest(expected, c) for c in candidates)


def payload_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact, sorted JSON, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


# ---- emitting ---------------------------------------------------------------------------


def emit_event(
    session: Session,
    event: str,
    *,
    record_code: str,
    doc_type: str,
    status: str,
    version: int,
    dossier_code: str | None,
    document_id: str,
    agency_code: str | None,
) -> list[int]:
    """Add one pending delivery per matching active subscription; do NOT commit.

    Matching: the event is among the subscription's events and the subscription
    is for every agency (None) or for `agency_code`. Returns the new deliveries'
    ids (flushed) for `dispatch`, which the caller calls after its commit.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}; known: {', '.join(EVENTS)}")
    agency_match: ColumnElement[bool] = WebhookSubscription.agency_code.is_(None)
    if agency_code is not None:
        agency_match = or_(agency_match, WebhookSubscription.agency_code == agency_code)
    subs = [
        sub
        for sub in session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.active.is_(True), agency_match)
            .order_by(WebhookSubscription.id)
        )
        if event in (sub.events or [])
    ]
    if not subs:
        return []
    now = utcnow()
    payload = WebhookPayload(
        event=event,  # type: ignore[arg-type]  # checked against EVENTS above
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        record_code=record_code,
        doc_type=doc_type,
        status=status,
        version=version,
        dossier_code=dossier_code,
        document_id=document_id,
    ).model_dump(mode="json")
    rows = [
        WebhookDelivery(
            subscription_id=sub.id,
            event=event,
            event_id=payload["event_id"],
            payload=payload,
            status=DeliveryStatus.pending,
            attempts=0,
            next_attempt_at=now,  # due at once: the sweep finds it if dispatch is lost
            created_at=now,
        )
        for sub in subs
    ]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def dispatch(delivery_ids: Sequence[int]) -> None:
    """Enqueue delivery of committed deliveries; call after the commit of `emit_event`'s session.

    A broker that is down loses nothing: the rows stay pending and due, and
    `redeliver_due` enqueues them again.
    """
    for delivery_id in delivery_ids:
        try:
            deliver_webhook.delay(delivery_id)
        except Exception as exc:  # the broker's errors vary by transport
            log.warning("webhook delivery=%s not enqueued (%s)", delivery_id, type(exc).__name__)


# ---- delivering -------------------------------------------------------------------------

Result = Literal["delivered", "retry", "failed", "skipped"]


@dataclass(frozen=True)
class Outcome:
    """What one call of `attempt_delivery` did; `retry_at` is set when it should run again."""

    delivery_id: int
    result: Result
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
    retry_at: datetime | None = None


def _aware(at: datetime | None) -> datetime | None:
    """SQLite gives back naive times; every time here is UTC."""
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _send(url: str, headers: dict[str, str], body: bytes, timeout_s: float) -> int:
    """POST and return the status code; the response body is never read (nor logged)."""
    with (
        httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        return response.status_code


def _error_name(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.HTTPError):
        return "http_error:" + type(exc).__name__
    return "error:" + type(exc).__name__


def attempt_delivery(
    session_factory: Callable[[], Session],
    delivery_id: int,
    now: datetime,
    policy: RetryPolicy | None = None,
) -> Outcome:
    """Send one delivery once if it is pending and due, and record what happened.

    Plain function (no broker) so tests drive it with their own `now`. Skips a
    delivery that is delivered, failed, not due yet or being sent by someone else.
    """
    policy = policy or RetryPolicy()
    now = _aware(now) or utcnow()
    lease = timedelta(seconds=2 * policy.timeout_s + LEASE_MARGIN_S)
    with session_factory() as s:
        claimed = s.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.pending,
                or_(
                    WebhookDelivery.next_attempt_at.is_(None),
                    WebhookDelivery.next_attempt_at <= now + timedelta(seconds=CLOCK_SLACK_S),
                ),
            )
            .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            s.rollback()
            row = s.get(WebhookDelivery, delivery_id)
            return Outcome(
                delivery_id,
                "skipped",
                attempts=row.attempts if row else 0,
                retry_at=_aware(row.next_attempt_at) if row else None,
            )
        s.commit()
        row = s.get(WebhookDelivery, delivery_id)
        sub = s.get(WebhookSubscription, row.subscription_id) if row else None
        if row is None or sub is None:  # pragma: no cover - the claim just found it
            return Outcome(delivery_id, "skipped")
        attempts, event, event_id, payload = row.attempts, row.event, row.event_id, row.payload
        url, secret, active, sub_id = sub.url, sub.secret, sub.active, sub.id

    if not active:
        return _record(
            session_factory, delivery_id, attempts, "failed", None, "subscription_deleted", now
        )

    body = payload_body(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(secret, body, int(now.timestamp())),
        EVENT_HEADER: event,
        DELIVERY_HEADER: event_id,
    }
    code: int | None = None
    error: str | None = None
    try:
        code = _send(url, headers, body, policy.timeout_s)
        if not 200 <= code < 300:
            error = f"http_{code}"
    except Exception as exc:  # any failure of one attempt is retried, never raised
        error = _error_name(exc)
    log.info(
        "webhook delivery=%s subscription=%s host=%s attempt=%d status=%s",
        delivery_id,
        sub_id,
        _host(url),
        attempts,
        code if error is None else error,
    )
    if error is None:
        return _record(session_factory, delivery_id, attempts, "delivered", code, None, now)
    if attempts >= policy.max_attempts:
        return _record(session_factory, delivery_id, attempts, "failed", code, error, now)
    retry_at = now + timedelta(seconds=policy.backoff_s(attempts))
    return _record(session_factory, delivery_id, attempts, "retry", code, error, now, retry_at)


def _record(
    session_factory: Callable[[], Session],
    delivery_id: int,
    attempts: int,
    result: Result,
    code: int | None,
    error: str | None,
    now: datetime,
    retry_at: datetime | None = None,
) -> Outcome:
    status = {"delivered": DeliveryStatus.delivered, "failed": DeliveryStatus.failed}.get(
        result, DeliveryStatus.pending
    )
    with session_factory() as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                status=status,
                last_status_code=code,
                last_error=error[:200] if error else None,
                next_attempt_at=retry_at,
                delivered_at=now if result == "delivered" else None,
            )
            .execution_options(synchronize_session=False)
        )
        s.commit()
    return Outcome(delivery_id, result, attempts, code, error, retry_at)


def due_deliveries(
    session_factory: Callable[[], Session], now: datetime, limit: int = 500
) -> list[int]:
    """Pending deliveries whose next attempt is due: their message may have been lost."""
    with session_factory() as s:
        return list(
            s.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == DeliveryStatus.pending,
                    or_(
                        WebhookDelivery.next_attempt_at.is_(None),
                        WebhookDelivery.next_attempt_at <= now,
                    ),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
        )


def redeliver_due(
    session_factory: Callable[[], Session], now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Enqueue every due pending delivery again (a duplicate message only finds it claimed)."""
    ids = due_deliveries(session_factory, now or utcnow(), limit)
    dispatch(ids)
    return ids


# ---- tasks --------------------------------------------------------------------------------


@celery_app.task(name="sohoa.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """Attempt one delivery; on failure enqueue the next attempt after the backoff."""
    svc = services()
    outcome = attempt_delivery(
        svc.sessions, delivery_id, utcnow(), RetryPolicy.from_settings(svc.settings)
    )
    if outcome.result == "retry" and outcome.retry_at is not None:
        wait = max(0.0, (outcome.retry_at - utcnow()).total_seconds())
        deliver_webhook.apply_async((delivery_id,), countdown=wait)
    return outcome.result


@celery_app.task(name="sohoa.redeliver_webhooks", ignore_result=True)
def redeliver_webhooks() -> int:
    """The sweep, for a periodic schedule (celery beat, cron): enqueue what is due."""
    return len(redeliver_due(services().sessions))
