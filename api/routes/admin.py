"""Administration: API keys (scope admin).

Create, list, rotate and revoke keys. A secret is returned once, by the call that
made it (create, rotate); a key's hash is never returned. Every change is written
to the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import keys
from api.deps import Caller, ServicesDep, SessionDep, audit, error, need

router = APIRouter(tags=["admin"])

Admin = Annotated[Caller, Depends(need("admin"))]


#: Database ids are 32-bit: a larger number is a 422, not a database error.
KeyId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class KeyOut(BaseModel):
    id: int
    name: str
    agency_code: str | None
    scopes: list[str]
    rate_limit_per_minute: int | None = Field(
        description="This key's own limit; null: the server's default; 0: no limit."
    )
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    previous_valid_until: datetime | None = Field(
        description="Until when the secret before the last rotation still works, if it does."
    )
    active: bool


class KeyList(BaseModel):
    keys: list[KeyOut]


class KeyWithSecret(BaseModel):
    key: KeyOut
    secret: str = Field(description="The new secret: shown this once, stored only as a hash.")


class KeyCreate(BaseModel):
    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The client system's name.",
    )
    scopes: list[str] = Field(min_length=1, description=f"Any of: {', '.join(keys.SCOPES)}.")
    agency_code: str | None = Field(
        default=None, max_length=32, pattern=r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$"
    )
    rate_limit_per_minute: int | None = Field(default=None, ge=0, le=1_000_000)


class KeyRotate(BaseModel):
    grace_seconds: int = Field(
        default=0,
        ge=0,
        description="How long the old secret keeps working (0: it stops now); at most"
        " SOHOA_KEY_ROTATION_MAX_GRACE_S.",
    )


def _out(info: keys.KeyInfo) -> KeyOut:
    return KeyOut(
        id=info.id,
        name=info.name,
        agency_code=info.agency_code,
        scopes=info.scopes,
        rate_limit_per_minute=info.rate_limit_per_minute,
        created_at=info.created_at,
        rotated_at=info.rotated_at,
        revoked_at=info.revoked_at,
        previous_valid_until=info.previous_valid_until,
        active=info.active,
    )


def _describe(info: keys.KeyInfo) -> str:
    """The audit entry's detail: what the key is, never its secret or hash."""
    return (
        f"id={info.id} name={info.name} agency={info.agency_code} "
        f"scopes={' '.join(info.scopes)} rate={info.rate_limit_per_minute}"
    )


@router.post("/api/v1/admin/keys", status_code=201, response_model=KeyWithSecret)
def create_key(c: Admin, s: SessionDep, body: KeyCreate) -> KeyWithSecret:
    """Create a key; its secret is in this answer only."""
    try:
        info, secret = keys.issue_key(
            s, body.name, body.scopes, body.agency_code, body.rate_limit_per_minute
        )
    except ValueError as exc:
        s.rollback()
        raise error(422, "invalid_key_request", str(exc)) from exc
    audit(s, c, "apikey.create", detail=_describe(info))
    return KeyWithSecret(key=_out(info), secret=secret)


@router.get("/api/v1/admin/keys", response_model=KeyList)
def list_keys(c: Admin, s: SessionDep, include_revoked: bool = True) -> KeyList:
    """Every key, oldest first, without secrets or hashes."""
    return KeyList(keys=[_out(i) for i in keys.list_keys(s, include_revoked)])


def _missing(s: Session, key_id: int) -> HTTPException:
    s.rollback()
    return error(404, "not_found", f"No API key {key_id}.")


@router.post("/api/v1/admin/keys/{key_id}/rotate", response_model=KeyWithSecret)
def rotate_key(
    key_id: KeyId,
    c: Admin,
    s: SessionDep,
    svc: ServicesDep,
    body: Annotated[KeyRotate | None, Body()] = None,
) -> KeyWithSecret:
    """New secret for the same key (shown once); the old one stops now or after its grace."""
    grace = body.grace_seconds if body else 0
    try:
        info, secret = keys.rotate_key(
            s, key_id, grace, max_grace_seconds=svc.settings.key_rotation_max_grace_s
        )
    except keys.KeyNotFound as exc:
        raise _missing(s, key_id) from exc
    except keys.KeyRevoked as exc:
        s.rollback()
        raise error(409, "key_revoked", "A revoked key cannot be rotated.") from exc
    except ValueError as exc:
        s.rollback()
        raise error(422, "invalid_key_request", str(exc)) from exc
    audit(s, c, "apikey.rotate", detail=f"{_describe(info)} grace_s={grace}")
    keys.invalidate(key_id)  # again after the commit: no lookup that raced it stays cached
    return KeyWithSecret(key=_out(info), secret=secret)


def _revoke(key_id: int, c: Caller, s: Session) -> KeyOut:
    try:
        info, changed = keys.revoke_key(s, key_id)
    except keys.KeyNotFound as exc:
        raise _missing(s, key_id) from exc
    if changed:
        audit(s, c, "apikey.revoke", detail=_describe(info))
    else:
        s.rollback()
    keys.invalidate(key_id)
    return _out(info)


@router.post("/api/v1/admin/keys/{key_id}/revoke", response_model=KeyOut)
def revoke_key(key_id: KeyId, c: Admin, s: SessionDep) -> KeyOut:
    """Revoke a key now, in this process at once and in other API processes within the
    authentication cache's time to live (SOHOA_AUTH_CACHE_TTL_S). Revoking twice is a no-op."""
    return _revoke(key_id, c, s)


@router.delete("/api/v1/admin/keys/{key_id}", response_model=KeyOut)
def delete_key(key_id: KeyId, c: Admin, s: SessionDep) -> KeyOut:
    """The same as POST .../revoke: the row stays, for the audit log's sake."""
    return _revoke(key_id, c, s)
