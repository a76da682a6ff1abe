"""Webhooks against a real HTTP receiver (http.server on a free port), no mocks.

Subscriptions through the API (scopes, validation, ownership), deliveries through
`attempt_delivery` with a controlled clock (signature, body, retries, giving up,
idempotence), the migration both ways on SQLite and PostgreSQL, and one delivery
through a real Celery worker.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, select

from api.keys import create_key
from schemas.db import AuditEntry, utcnow
from schemas.webhooks import WebhookDelivery, WebhookSubscription
from tests.conftest import (
    WorkerProcess,
    embedded_env,
    free_port,
    fresh_pg_database,
    settings_from,
)
from workers.app import configure
from workers.services import Services
from workers.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    RetryPolicy,
    attempt_delivery,
    dispatch,
    due_deliveries,
    emit_event,
    sign,
    verify_signature,
)

AGENCY = "000.00.00.H55"
DOSSIER = "000.00.00.H55-251125-0009"
PAYLOAD_KEYS = {
    "event",
    "event_id",
    "occurred_at",
    "record_code",
    "doc_type",
    "status",
    "version",
    "dossier_code",
    "document_id",
}
FAST = RetryPolicy(timeout_s=2.0, max_attempts=3, backoff_base_s=10.0, backoff_max_s=60.0)


# ---- a real receiver ---------------------------------------------------------------------


class Receiver:
    """An HTTP server that answers POSTs with scripted status codes and keeps what it got."""

    def __init__(self, codes: list[int] | None = None, delay_s: float = 0.0) -> None:
        self.codes = list(codes or [])
        self.delay_s = delay_s
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers.items()), body))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?src=sohoa"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(codes: list[int] | None = None, delay_s: float = 0.0) -> Receiver:
        r = Receiver(codes, delay_s)
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


# ---- services on SQLite (default) or PostgreSQL ---------------------------------------------


@pytest.fixture(params=["sqlite"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Services:
    env = embedded_env(tmp_path)
    if request.param == "postgresql":
        env["SOHOA_DATABASE_URL"] = request.getfixturevalue("pg_url")
    settings = settings_from(env)
    configure(settings)
    return Services.from_settings(settings)


both_databases = pytest.mark.parametrize("services", ["sqlite", "postgresql"], indirect=True)


def _key(
    services: Services, name: str, *scopes: str, agency: str | None = AGENCY
) -> dict[str, str]:
    with services.sessions() as s:
        return {"X-API-Key": create_key(s, name, list(scopes), agency)}


def _subscribe(
    client: TestClient, headers: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    resp = client.post(
        "/api/v1/webhooks",
        headers=headers,
        json={"url": url, "events": events or ["record.published", "record.needs_review"]},
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def _emit(
    services: Services,
    event: str = "record.published",
    agency: str | None = AGENCY,
    record_code: str = "3fa1c2d4e5b6.birth_certificate.p1.01",
) -> list[int]:
    """What the lifecycle code does: emit in its transaction, commit; dispatch is left out."""
    with services.sessions() as s:
        ids = emit_event(
            s,
            event,
            record_code=record_code,
            doc_type="birth_certificate",
            status="ready",
            version=2,
            dossier_code=DOSSIER,
            document_id="d" * 32,
            agency_code=agency,
        )
        s.commit()
    return ids


def _delivery(services: Services, delivery_id: int) -> WebhookDelivery:
    with services.sessions() as s:
        row = s.get(WebhookDelivery, delivery_id)
        assert row is not None
        return row


def _mine(services: Services, ids: list[int], subscription_id: int) -> int:
    """The one delivery among `ids` for this subscription (PostgreSQL is shared by tests)."""
    with services.sessions() as s:
        found = [
            d.id
            for d in s.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
            if d.subscription_id == subscription_id
        ]
    assert len(found) == 1, found
    return found[0]


# ---- subscriptions through the API -------------------------------------------------------


def test_every_webhook_call_needs_a_key_and_the_scope(
    client: TestClient, services: Services
) -> None:
    calls = [
        ("post", "/api/v1/webhooks"),
        ("get", "/api/v1/webhooks"),
        ("delete", "/api/v1/webhooks/1"),
        ("get", "/api/v1/webhooks/1/deliveries"),
    ]
    scans_only = _key(services, "scanner", "scans:write")
    for method, url in calls:
        kwargs: dict[str, Any] = {"json": {"url": "https://x.example/h", "events": []}}
        if method in ("get", "delete"):
            kwargs = {}
        resp = getattr(client, method)(url, **kwargs)
        assert resp.status_code == 401, url
        assert resp.json()["error"]["code"] == "unauthenticated"
        resp = getattr(client, method)(url, headers=scans_only, **kwargs)
        assert resp.status_code == 403, url
        assert resp.json()["error"]["code"] == "forbidden"


def test_subscriptions_are_owned_listed_without_secrets_and_deleted(
    client: TestClient, services: Services
) -> None:
    alice = _key(services, "alice-system", "records:read")
    bob = _key(services, "bob-system", "records:read", agency="000.00.00.H01")
    admin = _key(services, "ops", "admin", agency=None)

    created = _subscribe(client, alice, "https://alice.example/hook", ["record.published"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["owner"] == "alice-system" and created["agency_code"] == AGENCY
    assert created["events"] == ["record.published"] and created["active"] is True
    other = _subscribe(client, bob, "http://bob.example:8080/in")

    mine = client.get("/api/v1/webhooks", headers=alice).json()["subscriptions"]
    assert [s["id"] for s in mine] == [created["id"]]
    assert "secret" not in mine[0]
    everyone = client.get("/api/v1/webhooks", headers=admin).json()["subscriptions"]
    assert {s["id"] for s in everyone} == {created["id"], other["id"]}
    assert all("secret" not in s for s in everyone)

    # Someone else's subscription is as missing as one that does not exist.
    sid = created["id"]
    for path in (f"/api/v1/webhooks/{sid}", f"/api/v1/webhooks/{sid}/deliveries"):
        method = client.delete if not path.endswith("deliveries") else client.get
        assert method(path, headers=bob).status_code == 404
    assert client.get("/api/v1/webhooks/999999/deliveries", headers=alice).status_code == 404
    assert client.get(f"/api/v1/webhooks/{sid}/deliveries", headers=admin).status_code == 200

    assert client.delete(f"/api/v1/webhooks/{sid}", headers=alice).status_code == 204
    assert client.get("/api/v1/webhooks", headers=alice).json() == {"subscriptions": []}
    assert client.delete(f"/api/v1/webhooks/{sid}", headers=alice).status_code == 404
    # The log of a deleted subscription stays readable.
    log = client.get(f"/api/v1/webhooks/{sid}/deliveries", headers=alice)
    assert log.status_code == 200 and log.json() == {"deliveries": []}
    assert client.delete(f"/api/v1/webhooks/{other['id']}", headers=admin).status_code == 204

    with services.sessions() as s:
        actions = [(e.actor, e.action) for e in s.scalars(select(AuditEntry))]
    assert ("alice-system", "webhook.create") in actions
    assert ("alice-system", "webhook.delete") in actions
    assert ("ops", "webhook.delete") in actions


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://files.example/hook", "events": ["record.published"]},
        {"url": "file:///etc/passwd", "events": ["record.published"]},
        {"url": "https://user:pw@x.example/h", "events": ["record.published"]},
        {"url": "https://x.example/h h", "events": ["record.published"]},
        {"url": "https:///nohost", "events": ["record.published"]},
        {"url": "https://x.example:99999/h", "events": ["record.published"]},
        {"url": "https://x.example/h", "events": ["record.deleted"]},
        {"url": "https://x.example/h", "events": []},
        {"url": "https://x.example/h"},
        {"url": "https://x.example/" + "a" * 2000, "events": ["record.published"]},
    ],
)
def test_bad_subscriptions_are_422(
    client: TestClient, services: Services, body: dict[str, Any]
) -> None:
    headers = _key(services, "alice-system", "records:read")
    resp = client.post("/api/v1/webhooks", headers=headers, json=body)
    assert resp.status_code == 422, resp.text
    with services.sessions() as s:
        assert s.scalar(select(WebhookSubscription.id)) is None


def test_path_ids_out_of_range_are_422_not_500(client: TestClient, services: Services) -> None:
    headers = _key(services, "alice-system", "records:read")
    for sid in ("0", "-1", str(2**63), "abc"):
        assert client.delete(f"/api/v1/webhooks/{sid}", headers=headers).status_code == 422
        assert client.get(f"/api/v1/webhooks/{sid}/deliveries", headers=headers).status_code == 422
    resp = client.get("/api/v1/webhooks/1/deliveries?limit=0", headers=headers)
    assert resp.status_code == 422


# ---- emitting ----------------------------------------------------------------------------


@both_databases
def test_emit_matches_event_agency_and_active_and_waits_for_the_commit(
    services: Services,
) -> None:
    agency = f"A.{uuid.uuid4().hex[:8]}"
    with services.sessions() as s:
        subs = {
            name: WebhookSubscription(
                owner="t", agency_code=ag, url="https://x.example/h", events=ev, secret="k"
            )
            for name, ag, ev in [
                ("same_agency", agency, ["record.published"]),
                ("all_agencies", None, ["record.published", "record.needs_review"]),
                ("other_agency", "B.other", ["record.published"]),
                ("other_event", agency, ["record.needs_review"]),
                ("deleted", agency, ["record.published"]),
            ]
        }
        subs["deleted"].active = False
        s.add_all(subs.values())
        s.commit()
        ids = {name: sub.id for name, sub in subs.items()}

    # Not committed: nothing was announced.
    with services.sessions() as s:
        emitted = emit_event(
            s,
            "record.published",
            record_code="c.birth_certificate.p1.01",
            doc_type="birth_certificate",
            status="ready",
            version=1,
            dossier_code=None,
            document_id="d" * 32,
            agency_code=agency,
        )
        assert emitted
        s.rollback()
    with services.sessions() as s:
        assert s.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(emitted))).all() == []

    delivered_to = set()
    with services.sessions() as s:
        for d in s.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_(_emit(services, agency=agency)))
        ):
            delivered_to.add(d.subscription_id)
            assert d.status == "pending" and d.attempts == 0
    assert ids["same_agency"] in delivered_to and ids["all_agencies"] in delivered_to
    assert not delivered_to & {ids["other_agency"], ids["other_event"], ids["deleted"]}
    with pytest.raises(ValueError):
        _emit(services, event="record.deleted")


# ---- delivering --------------------------------------------------------------------------


def test_delivery_is_signed_carries_no_paper_fields_and_is_sent_once(
    client: TestClient, services: Services, receiver: Callable[..., Receiver]
) -> None:
    rcv = receiver([200])
    alice = _key(services, "alice-system", "records:read")
    sub = _subscribe(client, alice, rcv.url)
    # A record of a paper without a personal ID: its code holds no citizen's number.
    [delivery_id] = [d for d in _emit(services, record_code="3fa1c2d4e5b6.birth_certificate.p1.01")]

    now = utcnow()
    outcome = attempt_delivery(services.sessions, delivery_id, now, FAST)
    assert outcome.result == "delivered" and outcome.status_code == 200
    assert len(rcv.requests) == 1
    headers, body = rcv.requests[0]
    header = headers[SIGNATURE_HEADER]
    assert verify_signature(sub["secret"], header, body, tolerance_s=300)
    assert verify_signature(sub["secret"], header, body.decode(), 300, now=now.timestamp())

    payload = json.loads(body)
    assert set(payload) == PAYLOAD_KEYS
    assert headers[EVENT_HEADER] == payload["event"] == "record.published"
    assert headers[DELIVERY_HEADER] == payload["event_id"]
    assert str(uuid.UUID(payload["event_id"])) == payload["event_id"]
    assert headers["Content-Type"] == "application/json"
    assert payload["record_code"] == "3fa1c2d4e5b6.birth_certificate.p1.01"
    assert payload["version"] == 2 and payload["dossier_code"] == DOSSIER
    for personal in ("fields", "personal_id", "full_name", "date_of_birth", "text", "body"):
        assert personal not in payload

    # What a receiver must refuse.
    tampered = body.replace(b'"version":2', b'"version":3')
    assert tampered != body
    assert not verify_signature(sub["secret"], header, tampered, 300)
    assert not verify_signature("whsec_wrong", header, body, 300)
    assert not verify_signature(sub["secret"], header, body, 300, now=now.timestamp() + 301)
    assert not verify_signature(sub["secret"], None, body, 300)
    assert not verify_signature(sub["secret"], "v1=" + "0" * 64, body, 300)
    old = sign(sub["secret"], body, int(now.timestamp()) - 3600)
    assert not verify_signature(sub["secret"], old, body, 300)

    # Idempotent: a second run (a redelivered message) sends nothing.
    again = attempt_delivery(services.sessions, delivery_id, now + timedelta(days=1), FAST)
    assert again.result == "skipped"
    assert len(rcv.requests) == 1

    log = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries", headers=alice).json()
    [entry] = log["deliveries"]
    assert entry["status"] == "delivered" and entry["attempts"] == 1
    assert entry["last_status_code"] == 200 and entry["last_error"] is None
    assert entry["delivered_at"] is not None and entry["next_attempt_at"] is None
    assert entry["payload"] == payload


@both_databases
def test_failing_twice_then_200_is_delivered_on_the_third_attempt(
    client: TestClient, services: Services, receiver: Callable[..., Receiver]
) -> None:
    rcv = receiver([500, 503, 200])
    alice = _key(services, "alice-system", "records:read")
    sub = _subscribe(client, alice, rcv.url, ["record.needs_review"])
    delivery_id = _mine(services, _emit(services, "record.needs_review"), sub["id"])
    t0 = utcnow()

    first = attempt_delivery(services.sessions, delivery_id, t0, FAST)
    assert first.result == "retry" and first.error == "http_500" and first.attempts == 1
    assert first.retry_at is not None
    assert 8 <= (first.retry_at - t0).total_seconds() <= 12  # 10 s ± 20 %
    row = _delivery(services, delivery_id)
    assert row.status == "pending" and row.last_status_code == 500 and row.last_error == "http_500"

    # Before its time nothing is sent.
    early = attempt_delivery(services.sessions, delivery_id, t0 + timedelta(seconds=1), FAST)
    assert early.result == "skipped" and len(rcv.requests) == 1
    assert due_deliveries(services.sessions, t0 + timedelta(seconds=1)).count(delivery_id) == 0
    assert delivery_id in due_deliveries(services.sessions, first.retry_at)

    second = attempt_delivery(services.sessions, delivery_id, first.retry_at, FAST)
    assert second.result == "retry" and second.error == "http_503" and second.attempts == 2
    assert second.retry_at is not None
    assert 16 <= (second.retry_at - first.retry_at).total_seconds() <= 24  # 20 s ± 20 %

    third = attempt_delivery(services.sessions, delivery_id, second.retry_at, FAST)
    assert third.result == "delivered" and third.attempts == 3

    row = _delivery(services, delivery_id)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)
    assert row.last_error is None and row.next_attempt_at is None
    assert len(rcv.requests) == 3
    ids = {h[DELIVERY_HEADER] for h, _ in rcv.requests}
    assert ids == {row.event_id}, "every attempt carries the same event_id"
    bodies = {b for _, b in rcv.requests}
    assert len(bodies) == 1 and all(
        verify_signature(
            sub["secret"], h[SIGNATURE_HEADER], b, 300, now=second.retry_at.timestamp()
        )
        for h, b in rcv.requests[2:]
    )


def test_a_receiver_that_never_answers_2xx_ends_failed(
    client: TestClient, services: Services, receiver: Callable[..., Receiver]
) -> None:
    rcv = receiver([500, 302, 404, 500])
    alice = _key(services, "alice-system", "records:read")
    sub = _subscribe(client, alice, rcv.url)
    [delivery_id] = _emit(services)
    now = utcnow()
    results = []
    for _ in range(FAST.max_attempts):
        outcome = attempt_delivery(services.sessions, delivery_id, now, FAST)
        results.append((outcome.result, outcome.error))
        now = outcome.retry_at or now
    assert results == [("retry", "http_500"), ("retry", "http_302"), ("failed", "http_404")]
    row = _delivery(services, delivery_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    # Given up is final.
    later = attempt_delivery(services.sessions, delivery_id, now + timedelta(days=7), FAST)
    assert later.result == "skipped" and len(rcv.requests) == 3
    log = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries?status=failed", headers=alice)
    assert [d["id"] for d in log.json()["deliveries"]] == [delivery_id]


def test_timeouts_and_refused_connections_are_retried(
    client: TestClient, services: Services, receiver: Callable[..., Receiver]
) -> None:
    slow = receiver([200], delay_s=1.5)
    alice = _key(services, "alice-system", "records:read")
    _subscribe(client, alice, slow.url)
    _subscribe(client, alice, f"http://127.0.0.1:{free_port()}/nobody-listens")
    ids = _emit(services)
    policy = RetryPolicy(timeout_s=0.5, max_attempts=5)
    outcomes = [attempt_delivery(services.sessions, i, utcnow(), policy) for i in ids]
    assert sorted((o.result, o.error) for o in outcomes) == [
        ("retry", "connect_error"),
        ("retry", "timeout"),
    ]
    for o in outcomes:
        row = _delivery(services, o.delivery_id)
        assert row.status == "pending" and row.last_status_code is None


def test_a_deleted_subscription_sends_nothing_more(
    client: TestClient, services: Services, receiver: Callable[..., Receiver]
) -> None:
    rcv = receiver()
    alice = _key(services, "alice-system", "records:read")
    sub = _subscribe(client, alice, rcv.url)
    [delivery_id] = _emit(services)
    assert client.delete(f"/api/v1/webhooks/{sub['id']}", headers=alice).status_code == 204
    outcome = attempt_delivery(services.sessions, delivery_id, utcnow(), FAST)
    assert (outcome.result, outcome.error) == ("failed", "subscription_deleted")
    assert rcv.requests == []
    assert _emit(services) == []


def test_backoff_doubles_is_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_base_s=10, backoff_max_s=300)
    assert [policy.backoff_s(n, rand=lambda: 0.5) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert policy.backoff_s(1, rand=lambda: 0.0) == pytest.approx(8)
    assert policy.backoff_s(1, rand=lambda: 1.0) == pytest.approx(12)
    assert policy.backoff_s(30, rand=lambda: 0.5) == 300


# ---- the migration -----------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migration_upgrades_and_downgrades(tmp_path: Path, dialect: str) -> None:
    from alembic import command
    from alembic.config import Config

    from schemas.db import migrate

    @contextmanager
    def database() -> Iterator[str]:
        if dialect == "sqlite":
            yield f"sqlite:///{tmp_path / 'm.db'}"
        else:
            with fresh_pg_database("sohoa_wh") as url:
                yield url

    with database() as url:
        cfg = Config()
        cfg.set_main_option("script_location", str(Path("schemas/migrations").resolve()))
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        tables = {"webhook_subscriptions", "webhook_deliveries"}
        migrate(url)
        engine = create_engine(url)
        try:
            assert tables <= set(inspect(engine).get_table_names())
            cols = {c["name"] for c in inspect(engine).get_columns("webhook_deliveries")}
            assert {"event_id", "next_attempt_at", "last_error", "payload"} <= cols
            command.downgrade(cfg, "0003_lifecycle")
            assert not tables & set(inspect(engine).get_table_names())
            command.upgrade(cfg, "head")
            assert tables <= set(inspect(engine).get_table_names())
        finally:
            engine.dispose()


# ---- through a real worker ---------------------------------------------------------------


def test_a_real_worker_delivers_and_retries(
    tmp_path: Path,
    receiver: Callable[..., Receiver],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    env = {
        **embedded_env(tmp_path),
        "SOHOA_WEBHOOK_BACKOFF_BASE_S": "1",
        "SOHOA_WEBHOOK_TIMEOUT_S": "5",
    }
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    rcv = receiver([503, 200])
    with services.sessions() as s:
        s.add(
            WebhookSubscription(
                owner="t",
                agency_code=None,
                url=rcv.url,
                events=["record.published"],
                secret="whsec_test",
            )
        )
        s.commit()
    ids = _emit(services)
    dispatch(ids)  # after the commit, as the lifecycle code does
    worker = start_worker(env, concurrency=1)
    deadline = time.monotonic() + 90
    while _delivery(services, ids[0]).status == "pending":
        assert worker.alive(), worker.output()[-3000:]
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.3)
    row = _delivery(services, ids[0])
    assert (row.status, row.attempts) == ("delivered", 2), worker.output()[-3000:]
    assert len(rcv.requests) == 2
    headers, body = rcv.requests[-1]
    assert verify_signature("whsec_test", headers[SIGNATURE_HEADER], body, 300)
    # Logs name the delivery and host, never the record or the full URL.
    output = worker.output()
    assert "webhook delivery=" in output
    assert "birth_certificate" not in output
    assert "src=sohoa" not in output


def test_the_documented_receiver_snippet_agrees_with_verify_signature() -> None:
    """docs/webhooks.md shows receivers a standalone check: it must accept what we sign."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    [snippet] = re.findall(r"```python\n(.*?)```", doc, re.S)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    documented = namespace["verify_signature"]
    body = b'{"event":"record.published","version":1}'
    header = sign("whsec_doc", body, int(time.time()))
    for secret, data in [("whsec_doc", body), ("whsec_doc", body + b" "), ("other", body)]:
        assert documented(secret, header, data) == verify_signature(secret, header, data)
    assert documented("whsec_doc", header, body)
