"""What every route needs: the services, a database session, the caller, and the audit log.

Routes declare `Depends(need("scope"))`; the dependency answers 401 for a missing
or bad key and 403 for a missing scope before the route looks anything up, so
neither answer says whether a record exists.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.keys import Client, authenticate
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
    """An authenticated client and why it is asking (`X-Purpose`, `X-Dossier-Code`)."""

    client: Client
    purpose: str | None = None
    dossier_code: str | None = None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def session(svc: Annotated[Services, Depends(get_services)]) -> Iterator[Session]:
    with svc.sessions() as s:
        yield s


def client(request: Request, s: Annotated[Session, Depends(session)]) -> Client:
    found = authenticate(s, request.headers.get("x-api-key"))
    if found is None:
        raise error(401, "unauthenticated", "A valid X-API-Key header is required.")
    return found


def clean_text(value: str | None, limit: int = 200) -> str | None:
    """Free text from a caller, without control characters (it goes into the audit log)."""
    cleaned = _CONTROL.sub(" ", value or "").strip()[:limit]
    return cleaned or None


def need(scope: str) -> Callable[..., Caller]:
    def check(request: Request, c: Annotated[Client, Depends(client)]) -> Caller:
        if not c.allows(scope):
            raise error(403, "forbidden", f"This key lacks the scope {scope}.")
        try:
            dossier = check_dossier_code(request.headers.get("x-dossier-code"))
        except errors.InvalidDossierCode as exc:
            raise error(422, exc.code, "X-Dossier-Code is not a dossier code.") from exc
        return Caller(c, clean_text(request.headers.get("x-purpose")), dossier)

    return check


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
