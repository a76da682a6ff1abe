"""People signing in to the web pages: password hashes, signed session cookies, CSRF.

The browser never holds an API key. After sign-in it holds one cookie, signed with
the server's session secret (itsdangerous), HttpOnly and SameSite=Strict, carrying
the user's id and a random CSRF token. The pages send that token back in the
`X-CSRF-Token` header (or a hidden form field) on every state-changing request, so
a request forged from another site fails even where SameSite is not honoured.

The JSON API accepts such a session where no `X-API-Key` is sent
(`session_client`, called by `api.deps.client`): an operator gets the desk's scopes,
an admin all of them, and the audit log names the person (`user:<name>`). The user
row is read on every call, so disabling a user takes effect at once; the cookie
itself expires after `MAX_AGE_S` (the signature carries its time).
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.keys import SCOPES, Client
from config.settings import Settings
from schemas.users import ROLES, User
from workers.services import Services

COOKIE = "sohoa_session"
#: A working day: the desk signs in each morning.
MAX_AGE_S = 10 * 3600
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "operator": frozenset({"scans:write", "records:read", "records:read_personal"}),
    "admin": frozenset(SCOPES),
}
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10

_hasher = PasswordHasher()
#: Verified when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# --- users ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    s: Session, username: str, password: str, role: str, agency_code: str | None = None
) -> User:
    """Add a user (flushed, not committed); ValueError says what is wrong with the input."""
    if not USERNAME.match(username):
        raise ValueError(
            "user name: 2-64 of a-z 0-9 . _ - (lowercase), starting with a letter/digit"
        )
    if role not in ROLES:
        raise ValueError(f"role: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValueError(f"user {username} exists")
    user = User(
        username=username, password_hash=hash_password(password), role=role, agency_code=agency_code
    )
    s.add(user)
    s.flush()
    return user


def check_password(s: Session, username: str, password: str) -> User | None:
    """The enabled user with this name and password, or None (same cost either way)."""
    user = s.scalar(select(User).where(User.username == username.strip().lower()))
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        s.commit()
    return user


def client_of(user: User) -> Client:
    """What a signed-in person may do through the API; key_id < 0 keeps their own rate bucket."""
    return Client(
        name=f"user:{user.username}",
        agency_code=user.agency_code,
        scopes=ROLE_SCOPES.get(user.role, frozenset()),
        key_id=-user.id,
    )


# --- the session cookie -----------------------------------------------------------------


@dataclass(frozen=True)
class WebSession:
    """What the cookie carries: who (None before sign-in) and the CSRF token."""

    csrf: str
    uid: int | None = None


_secrets: dict[Path, bytes] = {}
_secrets_lock = threading.Lock()


def session_secret(settings: Settings) -> bytes:
    """The configured secret, or one generated once into DATA_DIR/keys/ (shared by processes)."""
    configured = settings.session_secret.get_secret_value()
    if configured:
        return configured.encode()
    path = settings.resolved_data_dir / "keys" / "session-secret"
    with _secrets_lock:
        if path not in _secrets:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # Written whole, then linked into place: a process starting at the same
                # moment reads either nothing (and links its own, which fails) or all of it.
                tmp = path.with_name(f".session-secret-{os.getpid()}-{secrets.token_hex(4)}")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass
                finally:
                    tmp.unlink()
            value = path.read_text().strip()
            if len(value) < 32:
                raise RuntimeError(f"{path}: too short to sign sessions; delete it to regenerate")
            _secrets[path] = value.encode()
        return _secrets[path]


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(session_secret(settings), salt="sohoa.web-session")


def read_session(request: Request, settings: Settings) -> WebSession | None:
    """The request's session when its cookie is intact and not older than MAX_AGE_S."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    uid = data.get("uid")
    return WebSession(csrf=data["csrf"], uid=uid if isinstance(uid, int) else None)


def new_session(uid: int | None = None) -> WebSession:
    """A fresh token on every sign-in and sign-out: nothing carries over between people."""
    return WebSession(csrf=secrets.token_urlsafe(32), uid=uid)


def write_session(response: Response, request: Request, settings: Settings, ws: WebSession) -> None:
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps({"csrf": ws.csrf, "uid": ws.uid}),
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def csrf_ok(ws: WebSession, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(ws.csrf.encode(), (sent or "").encode())


def load_user(svc: Services, uid: int) -> User | None:
    """The enabled user with this id (read on every call: disabling takes effect at once)."""
    with svc.sessions() as s:
        user = s.get(User, uid)
        if user is None or user.disabled_at is not None:
            return None
        s.expunge(user)
        return user


async def session_client(request: Request, svc: Services) -> Client | None:
    """The signed-in person behind the session cookie, as an API client; None without one.

    A state-changing call must carry the session's CSRF token in `X-CSRF-Token` (403).
    """
    ws = read_session(request, svc.settings)
    if ws is None or ws.uid is None:
        return None
    user = await run_in_threadpool(load_user, svc, ws.uid)
    if user is None:
        return None
    if request.method in UNSAFE_METHODS and not csrf_ok(ws, request.headers.get(CSRF_HEADER)):
        raise HTTPException(
            status_code=403,
            detail={"code": "csrf_failed", "message": "Missing or wrong X-CSRF-Token."},
        )
    return client_of(user)
