"""What every route needs: the services, a database session, the caller, and the audit log.

Routes declare `Depends(need("scope"))`; the dependency answers 401 for a missing
or bad key and 403 for a missing scope before the route looks anything up, so
neither answer says whether a record exists.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.keys import Client, authenticate, cached_client
from api.ratelimit import RateLimiter, retry_after
from api.reads import PgReads, Who
from api.sessions import session_client
from config.settings import Settings
from pipeline import errors
from pipeline.intake import check_dossier_code
from schemas import audit as audit_log
from schemas.db import RecordRow
from workers.services import Services


class ErrorBody(BaseModel):
    code: str
    message: str


@dataclass(frozen=True)
class Caller:
    """An authenticated client and why it is asking (`X-Purpose`, `X-Dossier-Code`).

    Header values are ASCII: a Vietnamese purpose is sent percent-encoded (UTF-8).
    """

    client: Client
    purpose: str | None = None
    dossier_code: str | None = None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


async def get_services(request: Request) -> Services:
    """Async: a plain function would cost every call a hop through the thread pool."""
    services: Services = request.app.state.services
    return services


def session(svc: Annotated[Services, Depends(get_services)]) -> Iterator[Session]:
    with svc.sessions() as s:
        yield s


def _lookup(svc: Services, key: str | None) -> Client | None:
    with svc.sessions() as s:
        return authenticate(s, key, svc.settings.auth_cache_ttl_s)


def rate_limiter(request: Request) -> RateLimiter:
    """This app's token buckets (one app per API process; tests build several)."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        limiter = request.app.state.rate_limiter = RateLimiter()
    return limiter


async def client(request: Request, svc: Services) -> Client:
    """The caller behind `X-API-Key` (401 otherwise), within its rate limit (429 otherwise).

    Async, and answered from the per-process key cache when it can, so an authenticated
    call costs no thread hop and no database round trip before the route runs.
    """
    key = request.headers.get("x-api-key")
    settings = svc.settings
    hit, found = cached_client(key, settings.auth_cache_ttl_s)
    if key is None:  # the web pages: a signed-in person's session (api/sessions.py)
        found = await session_client(request, svc)
    elif not hit:
        found = await run_in_threadpool(_lookup, svc, key)
    if found is None:
        raise error(401, "unauthenticated", "A valid X-API-Key header is required.")
    per_minute = key_limit(found, settings)
    wait = rate_limiter(request).take(found.key_id or 0, per_minute, settings.rate_limit_burst_s)
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail={"code": "rate_limited", "message": "Too many requests for this key."},
            headers={"Retry-After": retry_after(wait)},
        )
    return found


def key_limit(found: Client, settings: Settings) -> int:
    """Requests a minute this key may make: its own limit, else the default."""
    if found.rate_limit_per_minute is not None:
        return found.rate_limit_per_minute
    return settings.rate_limit_per_minute


def clean_text(value: str | None, limit: int = 200) -> str | None:
    """Free text from a caller, without control characters (it goes into the audit log)."""
    cleaned = _CONTROL.sub(" ", value or "").strip()[:limit]
    return cleaned or None


def need(scope: str) -> Callable[..., Awaitable[Caller]]:
    """The dependency of every route: one async function, no nested dependencies (each
    level costs every call FastAPI's resolution work)."""

    async def check(request: Request) -> Caller:
        c = await client(request, request.app.state.services)
        if not c.allows(scope):
            raise error(403, "forbidden", f"This key lacks the scope {scope}.")
        try:
            dossier = check_dossier_code(request.headers.get("x-dossier-code"))
        except errors.InvalidDossierCode as exc:
            raise error(422, exc.code, "X-Dossier-Code is not a dossier code.") from exc
        return Caller(c, clean_text(unquote(request.headers.get("x-purpose", ""))), dossier)

    return check


def who(c: Caller) -> Who:
    """The caller as an audit entry names it."""
    return Who(c.client.name, c.client.agency_code, c.dossier_code, c.purpose)


def pg_reads(request: Request) -> PgReads | None:
    """The asyncpg reads when the app runs on PostgreSQL, else None (api/reads.py)."""
    reads: PgReads | None = request.app.state.reads
    return reads


def unavailable() -> HTTPException:
    return error(503, "database_unavailable", "The database is unavailable; retry later.")


def audit(s: Session, c: Caller, action: str, row: RecordRow | None = None, **extra: Any) -> None:
    """Append to the hash-chained audit log and commit, before any data leaves."""
    audit_log.append(
        s,
        actor=c.client.name,
        agency_code=c.client.agency_code,
        action=action,
        record_code=row.record_code if row else extra.get("record_code"),
        personal_id=row.personal_id if row else extra.get("personal_id"),
        dossier_code=extra.get("dossier_code") or c.dossier_code,
        purpose=extra.get("purpose") or c.purpose,
        detail=extra.get("detail"),
    )
    s.commit()


SessionDep = Annotated[Session, Depends(session)]
ServicesDep = Annotated[Services, Depends(get_services)]
