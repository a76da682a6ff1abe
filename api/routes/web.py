"""The web pages: the operator's intake and review pages and the admin dashboard.

Server-rendered HTML (Jinja2, `api/web/templates/`) with small scripts and one style
sheet served from `api/web/static/` — nothing from a CDN, no build step. The pages
call the JSON API themselves, signed in by the session cookie (`api/sessions.py`),
so what a person can do is what the API allows their role, and it is audited
the same way. Vietnamese by default; `?lang=en` switches (kept in a cookie).

None of these routes is in the OpenAPI document: they are for people, not systems.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import sessions
from api.deps import ServicesDep, SessionDep
from api.ratelimit import RateLimiter
from config.taxonomy import DOC_TYPES
from schemas import audit as audit_log
from schemas.db import Dossier
from schemas.users import User

router = APIRouter(include_in_schema=False)

WEB = Path(__file__).resolve().parent.parent / "web"
STATIC = WEB / "static"
LANGS = ("vi", "en")
LANG_COOKIE = "lang"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
#: Scripts and styles from this server only; images also from blob: (the dropped files).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: Sign-in attempts per user name per minute (a slow hash already slows guessing).
LOGIN_PER_MINUTE = 10


@cache
def _strings() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads((WEB / "i18n.json").read_text("utf-8"))
    return data


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def translate(lang: str, key: str, **values: object) -> str:
    entry = _strings().get(key)
    text = entry.get(lang) or entry.get("vi") or key if entry else key
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _lang(request: Request) -> tuple[str, bool]:
    """(language, whether to remember it): `?lang=` first, then the cookie, then Vietnamese."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked, request.cookies.get(LANG_COOKIE) != asked
    kept = request.cookies.get(LANG_COOKIE)
    return (kept if kept in LANGS else "vi"), False


def _local(target: str | None, default: str = "/operator") -> str:
    """Only a path on this site: a sign-in link must not send anyone elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


class Page:
    """One page view: the session, the signed-in user (or None) and the language."""

    def __init__(self, request: Request, svc: ServicesDep, s: Session) -> None:
        self.request = request
        self.settings = svc.settings
        found = sessions.read_session(request, svc.settings)
        self.fresh = found is None
        self.ws = found or sessions.new_session()
        self.user: User | None = None
        if self.ws.uid is not None:
            user = s.get(User, self.ws.uid)
            if user is not None and user.disabled_at is None:
                self.user = user
        self.lang, self.remember_lang = _lang(request)

    def t(self, key: str, **values: object) -> str:
        return translate(self.lang, key, **values)

    def finish(self, response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if self.fresh:
            sessions.write_session(response, self.request, self.settings, self.ws)
        if self.remember_lang:
            response.set_cookie(
                LANG_COOKIE, self.lang, max_age=365 * 86400, samesite="strict", httponly=True
            )
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        query = {k: v for k, v in self.request.query_params.items() if k != "lang"}
        other = "en" if self.lang == "vi" else "vi"
        html = (
            _env()
            .get_template(template)
            .render(
                t=self.t,
                lang=self.lang,
                user=self.user,
                csrf=self.ws.csrf,
                path=self.request.url.path,
                switch_url=f"{self.request.url.path}?{urlencode({**query, 'lang': other})}",
                js_strings={k: v.get(self.lang, v["vi"]) for k, v in _strings().items()},
                **context,
            )
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def to_login(self) -> Response:
        target = self.request.url.path
        if self.request.url.query:
            target += "?" + self.request.url.query
        return self.finish(RedirectResponse(f"/login?{urlencode({'next': target})}", 303))

    def forbidden(self) -> Response:
        return self.render(
            "error.html", 403, title=self.t("forbidden_title"), text="forbidden_text"
        )


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The pages' own scripts and styles (only files directly in api/web/static/)."""
    kind = STATIC_TYPES.get(Path(name).suffix)
    path = STATIC / name
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        path.read_bytes(),
        media_type=kind,
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/")
def home(request: Request, svc: ServicesDep, s: SessionDep) -> Response:
    page = Page(request, svc, s)
    if page.user is None:
        return page.finish(RedirectResponse("/login", 303))
    return page.finish(
        RedirectResponse("/admin" if page.user.role == "admin" else "/operator", 303)
    )


@router.get("/login")
def login_form(request: Request, svc: ServicesDep, s: SessionDep, next: str = "") -> Response:
    page = Page(request, svc, s)
    return page.render("login.html", next=_local(next, ""), error=None, username="")


def _login_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = request.app.state.login_limiter = RateLimiter()
    return limiter


@router.post("/login")
def login(
    request: Request,
    svc: ServicesDep,
    s: SessionDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the password; on success a new session (new CSRF token) and the user's page."""
    page = Page(request, svc, s)
    name = username.strip().lower()

    def again(status: int, message: str) -> Response:
        return page.render(
            "login.html", status, next=_local(next, ""), error=message, username=name
        )

    if page.fresh or not sessions.csrf_ok(page.ws, csrf):
        return again(403, "csrf_failed")
    bucket = int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big")
    if _login_limiter(request).take(bucket, LOGIN_PER_MINUTE, 60.0) > 0:
        return again(429, "too_many_logins")
    user = sessions.check_password(s, name, password)
    if user is None:
        return again(401, "bad_login")
    audit_log.append(
        s,
        actor=f"user:{user.username}",
        agency_code=user.agency_code,
        action="user.login",
        detail=f"role={user.role}",
    )
    s.commit()
    page.ws = sessions.new_session(user.id)
    page.fresh = True
    default = "/admin" if user.role == "admin" else "/operator"
    return page.finish(RedirectResponse(_local(next, default), 303))


@router.post("/logout")
def logout(
    request: Request,
    svc: ServicesDep,
    s: SessionDep,
    csrf: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    page = Page(request, svc, s)
    if page.user is not None and not sessions.csrf_ok(page.ws, csrf):
        return page.render("error.html", 403, title=page.t("error"), text="csrf_failed")
    page.ws = sessions.new_session()
    page.fresh = True
    return page.finish(RedirectResponse("/login", 303))


_SEQ = re.compile(r"-(\d{4})$")


def _dossiers(s: Session, agency: str) -> tuple[list[str], str]:
    """Recent dossier codes of the agency, and the next free code for today."""
    recent = list(
        s.scalars(
            select(Dossier.code)
            .where(Dossier.agency_code == agency)
            .order_by(Dossier.created_at.desc())
            .limit(20)
        )
    )
    today = dt.date.today()
    prefix = f"{agency}-{today:%y%m%d}-"
    last = s.scalar(select(func.max(Dossier.code)).where(Dossier.code.startswith(prefix)))
    m = _SEQ.search(last or "")
    seq = int(m.group(1)) + 1 if m else 1
    return recent, f"{prefix}{min(seq, 9999):04d}"


@router.get("/operator")
def operator_page(request: Request, svc: ServicesDep, s: SessionDep) -> Response:
    page = Page(request, svc, s)
    if page.user is None:
        return page.to_login()
    agency = page.user.agency_code or svc.settings.agency_code
    recent, suggested = _dossiers(s, agency)
    return page.render("operator.html", recent=recent, suggested=suggested)


@router.get("/review/{record_code}")
def review_page(record_code: str, request: Request, svc: ServicesDep, s: SessionDep) -> Response:
    page = Page(request, svc, s)
    if page.user is None:
        return page.to_login()
    types = {
        code: {
            "name": spec.name_vi if page.lang == "vi" else spec.name_en,
            "fields": list(spec.fields),
            "required": list(spec.required),
        }
        for code, spec in DOC_TYPES.items()
    }
    return page.render("review.html", record_code=record_code, doc_types=types)


@router.get("/admin")
def admin_page(request: Request, svc: ServicesDep, s: SessionDep) -> Response:
    page = Page(request, svc, s)
    if page.user is None:
        return page.to_login()
    if page.user.role != "admin":
        return page.forbidden()
    today = dt.date.today()
    return page.render(
        "admin.html",
        agency=page.user.agency_code or "",
        period_from=today.replace(day=1).isoformat(),
        period_to=today.isoformat(),
    )
