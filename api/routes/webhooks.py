"""Webhook subscriptions and their delivery log (docs/webhooks.md).

Any key with `records:read` manages its own subscriptions (owner = the key's
name, agency = the key's agency); a key with `admin` sees and deletes everyone's.
Someone else's subscription answers 404, as a missing one does. Deleting keeps
the subscription's row and delivery log (for audits) and stops its deliveries.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AfterValidator, BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import Caller, SessionDep, audit, error, need
from schemas.webhooks import (
    DeliveryStatusName,
    EventName,
    WebhookDelivery,
    WebhookPayload,
    WebhookSubscription,
)
from workers.webhooks import new_secret

router = APIRouter(tags=["webhooks"])

MAX_URL = 2000
_URL_CHARS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
#: Database ids are 32-bit on PostgreSQL: larger path values are answered 422, not 500.
_Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _utc(at: datetime) -> datetime:
    """SQLite gives back naive times; they are UTC: say so in the answer."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


#: The error bodies are declared for every operation by api/app.py; these say more.
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "The key lacks the scope records:read."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such subscription for this key."}
}


class SubscriptionIn(BaseModel):
    url: str = Field(
        min_length=8,
        max_length=MAX_URL,
        pattern=r"^https?://",
        description="http(s) URL that receives POSTs; no user:password part.",
        examples=["https://receiver.example.gov.vn/sohoa/webhook"],
    )
    events: list[EventName] = Field(min_length=1, max_length=10)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        """Only URLs the worker can POST to: http(s), a host, printable ASCII, no credentials."""
        if not set(value) <= _URL_CHARS:
            raise ValueError("the URL must be printable ASCII without spaces (punycode hosts)")
        try:
            parsed = httpx.URL(value)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError("not a valid URL") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("the URL must be http:// or https:// with a host")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise ValueError("the port must be 1-65535")
        if parsed.userinfo:
            raise ValueError("no user:password in the URL: deliveries are signed instead")
        if parsed.fragment:
            raise ValueError("no #fragment in the URL")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class Subscription(BaseModel):
    id: int
    owner: str
    agency_code: str | None = Field(description="Only this agency's records; null: all.")
    url: str
    events: list[EventName]
    active: bool
    created_at: UtcDatetime


class SubscriptionCreated(Subscription):
    secret: str = Field(description="Signs every delivery (docs/webhooks.md). Shown only once.")


class SubscriptionList(BaseModel):
    subscriptions: list[Subscription]


class Delivery(BaseModel):
    id: int
    subscription_id: int
    event: EventName
    event_id: str
    status: DeliveryStatusName
    attempts: int
    next_attempt_at: UtcDatetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: UtcDatetime
    delivered_at: UtcDatetime | None
    payload: WebhookPayload


class DeliveryList(BaseModel):
    deliveries: list[Delivery]


def _out(sub: WebhookSubscription) -> Subscription:
    return Subscription.model_validate(sub, from_attributes=True)


def _find(s: Session, c: Caller, subscription_id: int) -> WebhookSubscription:
    """The caller's subscription (any, for admin); 404 otherwise, without saying whose it is."""
    sub = s.get(WebhookSubscription, subscription_id)
    if sub is None or ("admin" not in c.client.scopes and sub.owner != c.client.name):
        raise error(404, "not_found", "No such webhook subscription.")
    return sub


@router.post(
    "/api/v1/webhooks",
    response_model=SubscriptionCreated,
    status_code=201,
    responses=ERRORS,
)
def create_subscription(
    body: SubscriptionIn,
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
) -> SubscriptionCreated:
    """Subscribe the calling key to record events; the answer holds the signing secret, once."""
    sub = WebhookSubscription(
        owner=c.client.name,
        agency_code=c.client.agency_code,
        url=body.url,
        events=list(body.events),
        secret=new_secret(),
        active=True,
    )
    s.add(sub)
    s.flush()
    host = httpx.URL(body.url).host
    audit(s, c, "webhook.create", detail=f"subscription={sub.id} host={host} events={body.events}")
    return SubscriptionCreated(**_out(sub).model_dump(), secret=sub.secret)


@router.get("/api/v1/webhooks", response_model=SubscriptionList, responses=ERRORS)
def list_subscriptions(
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
) -> SubscriptionList:
    """The caller's active subscriptions (every owner's for admin), without secrets."""
    q = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    if "admin" not in c.client.scopes:
        q = q.where(WebhookSubscription.owner == c.client.name)
    rows = s.scalars(q.order_by(WebhookSubscription.id))
    return SubscriptionList(subscriptions=[_out(r) for r in rows])


@router.delete(
    "/api/v1/webhooks/{subscription_id}",
    status_code=204,
    response_class=Response,
    responses={**ERRORS, **NOT_FOUND},
)
def delete_subscription(
    subscription_id: _Id,
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
) -> Response:
    """Stop a subscription: no new deliveries, pending ones are not sent; the log stays."""
    sub = _find(s, c, subscription_id)
    if not sub.active:
        raise error(404, "not_found", "No such webhook subscription.")
    sub.active = False
    audit(s, c, "webhook.delete", detail=f"subscription={sub.id} owner={sub.owner}")
    return Response(status_code=204)


@router.get(
    "/api/v1/webhooks/{subscription_id}/deliveries",
    response_model=DeliveryList,
    responses={**ERRORS, **NOT_FOUND},
)
def list_deliveries(
    subscription_id: _Id,
    c: Annotated[Caller, Depends(need("records:read"))],
    s: SessionDep,
    status: DeliveryStatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """The delivery log of one subscription (deleted ones too), newest first."""
    sub = _find(s, c, subscription_id)
    q = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == sub.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status is not None:
        q = q.where(WebhookDelivery.status == status)
    rows = list(s.scalars(q))
    # Payloads name records (their codes): reading the log is an access like any other.
    audit(s, c, "webhook.deliveries.read", detail=f"subscription={sub.id} hits={len(rows)}")
    return DeliveryList(deliveries=[Delivery.model_validate(d, from_attributes=True) for d in rows])
