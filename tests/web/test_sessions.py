"""Sign-in, the session cookie, CSRF and roles, through the app in-process (no browser).

The browser tests (test_pages.py) walk the pages; these pin the rules underneath:
what a session may call, what it may not, and that API keys are unaffected.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.keys import create_key
from api.sessions import check_password, create_user
from schemas.db import AuditEntry, utcnow
from schemas.users import User
from tests.api.test_lifecycle import DOSSIER, _card, _digitise
from tests.conftest import ROOT, embedded_env, settings_from
from workers.app import configure
from workers.services import Services, page_key

PASSWORD = "một mật khẩu dài"


@pytest.fixture
def services(tmp_path: Path) -> Services:
    settings = settings_from(embedded_env(tmp_path))
    configure(settings)
    svc = Services.from_settings(settings)
    with svc.sessions() as s:
        create_user(s, "ana", PASSWORD, "operator", "000.00.00.H55")
        create_user(s, "quan", PASSWORD, "admin")
        s.commit()
    return svc


@pytest.fixture
def web(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _sign_in(web: TestClient, user: str, password: str = PASSWORD) -> str:
    """Sign in through the form; the page's CSRF token afterwards."""
    token = _csrf(web.get("/login").text)
    r = web.post(
        "/login",
        data={"username": user, "password": password, "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    return _csrf(web.get(r.headers["location"]).text)


def test_passwords_are_stored_as_argon2_hashes(services: Services) -> None:
    with services.sessions() as s:
        user = s.scalar(select(User).where(User.username == "ana"))
        assert user is not None
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert check_password(s, "ana", PASSWORD) is not None
        assert check_password(s, "ana", PASSWORD + "x") is None
        assert check_password(s, "nobody", PASSWORD) is None
        with pytest.raises(ValueError, match="exists"):
            create_user(s, "ana", PASSWORD, "operator")
        with pytest.raises(ValueError, match="role"):
            create_user(s, "root", PASSWORD, "superuser")
        with pytest.raises(ValueError, match="password"):
            create_user(s, "short", "abc", "operator")


def test_sign_in_needs_the_form_token_and_the_right_password(web: TestClient) -> None:
    token = _csrf(web.get("/login").text)
    wrong = web.post("/login", data={"username": "ana", "password": "x" * 12, "csrf": token})
    assert wrong.status_code == 401
    forged = web.post("/login", data={"username": "ana", "password": PASSWORD, "csrf": "forged"})
    assert forged.status_code == 403
    assert web.get("/operator", follow_redirects=False).status_code == 303  # still signed out
    ok = web.post(
        "/login",
        data={"username": "ana", "password": PASSWORD, "csrf": token, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/operator"  # never off-site
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_a_session_calls_the_api_with_its_role_and_the_csrf_token(
    web: TestClient, services: Services
) -> None:
    token = _sign_in(web, "ana")
    assert web.get("/api/v1/stats/kpi").status_code == 200
    assert web.get("/api/v1/admin/keys").status_code == 403  # an operator is not an admin
    put = f"/api/v1/dossiers/{DOSSIER}"
    assert web.put(put).status_code == 403  # no token
    assert web.put(put, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert web.put(put, headers={"X-CSRF-Token": token}).status_code == 200
    with services.sessions() as s:
        actors = set(s.scalars(select(AuditEntry.actor)))
    assert "user:ana" in actors

    # Disabled: refused at once, by the pages and the API.
    with services.sessions() as s:
        user = s.scalar(select(User).where(User.username == "ana"))
        assert user is not None
        user.disabled_at = utcnow()
        s.commit()
    assert web.get("/api/v1/stats/kpi").status_code == 401
    assert web.get("/operator", follow_redirects=False).status_code == 303


def test_an_admin_has_every_scope_and_a_key_still_works_without_a_cookie(
    web: TestClient, services: Services
) -> None:
    _sign_in(web, "quan")
    assert web.get("/api/v1/admin/keys").status_code == 200
    assert web.get("/admin").status_code == 200
    with services.sessions() as s:
        key = create_key(s, "reader", ["records:read"])
    web.cookies.clear()
    assert web.get("/api/v1/stats/kpi", headers={"X-API-Key": key}).status_code == 200
    assert web.get("/api/v1/stats/kpi").status_code == 401
    assert web.get("/admin", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(web: TestClient) -> None:
    token = _sign_in(web, "ana")
    assert web.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert web.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert web.get("/api/v1/stats/kpi").status_code == 401


def test_operator_page_is_vietnamese_with_an_english_switch(web: TestClient) -> None:
    _sign_in(web, "ana")
    vi = web.get("/operator")
    assert '<html lang="vi">' in vi.text and "Tiếp nhận và số hóa hồ sơ" in vi.text
    assert "script-src 'self'" in vi.headers["content-security-policy"]
    en = web.get("/operator?lang=en")
    assert '<html lang="en">' in en.text and "Receive and digitise a dossier" in en.text
    assert '<html lang="en">' in web.get("/operator").text  # remembered
    assert web.get("/admin").status_code == 403


def test_page_images_and_originals_are_served_and_audited(
    web: TestClient, services: Services
) -> None:
    from PIL import Image

    row = _digitise(services, _card())
    import io

    buf = io.BytesIO()
    Image.new("RGB", (1200, 800), "white").save(buf, format="JPEG")
    services.store.put(page_key(row.document_id, 1, "archive.jpg"), buf.getvalue(), "image/jpeg")
    _sign_in(web, "ana")
    base = f"/api/v1/records/{row.record_code}/pages"
    full = web.get(f"{base}/1/image")
    thumb = web.get(f"{base}/1/image?size=thumb")
    assert full.status_code == thumb.status_code == 200
    assert Image.open(io.BytesIO(full.content)).size == (1200, 800)
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 240
    assert web.get(f"{base}/2/image").status_code == 404  # not a page of this record
    assert web.get(f"{base}/1/image?size=huge").status_code == 422
    original = web.get(f"/api/v1/documents/{row.document_id}/original")
    assert original.status_code == 200 and original.content.startswith(b"%PDF")
    with services.sessions() as s:
        actions = {
            a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.actor == "user:ana"))
        }
    assert {
        "record.page_image.full",
        "record.page_image.thumb",
        "document.download.original",
    } <= actions


def test_user_create_command_reads_the_password_from_stdin(tmp_path: Path) -> None:
    env = {**embedded_env(tmp_path)}
    import os

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "user",
            "create",
            "lan",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert PASSWORD not in run.stdout + run.stderr
    svc = Services.from_settings(settings_from(env))
    with svc.sessions() as s:
        user = check_password(s, "lan", PASSWORD)
        assert user is not None and user.role == "admin"
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "user.create"))
