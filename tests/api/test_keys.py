"""API keys: the admin API's scope boundaries, and that rotation and revocation really bite."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from api.keys import SCOPES, authenticate, create_key, hash_key
from schemas.audit import verify_chain
from schemas.db import ApiKey, AuditEntry
from tests.conftest import ROOT, embedded_env, settings_from
from workers.app import configure
from workers.services import Services

AGENCY = "000.00.00.H55"
#: Any route that needs a valid key and the scope records:read_personal.
PROBE = "/api/v1/records?personal_id=001099012345"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**embedded_env(tmp_path), "SOHOA_AUTH_CACHE_TTL_S": "30"}


@pytest.fixture
def services(env: dict[str, str]) -> Services:
    settings = settings_from(env)
    configure(settings)
    return Services.from_settings(settings)


def _key(services: Services, name: str, *scopes: str) -> dict[str, str]:
    with services.sessions() as s:
        return {"X-API-Key": create_key(s, name, list(scopes), AGENCY)}


def _entries(services: Services) -> list[AuditEntry]:
    with services.sessions() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _works(client: TestClient, secret: str) -> int:
    return client.get(PROBE, headers={"X-API-Key": secret}).status_code


ADMIN_CALLS = [
    ("post", "/api/v1/admin/keys", {"name": "x", "scopes": ["records:read"]}),
    ("get", "/api/v1/admin/keys", None),
    ("post", "/api/v1/admin/keys/1/rotate", {}),
    ("post", "/api/v1/admin/keys/1/revoke", None),
    ("delete", "/api/v1/admin/keys/1", None),
    # A key that does not exist must get the same answers: nothing is revealed.
    ("post", "/api/v1/admin/keys/999/rotate", {}),
    ("post", "/api/v1/admin/keys/999/revoke", None),
]


def _call(
    client: TestClient, method: str, url: str, body: dict | None, headers: dict[str, str]
) -> int:
    if method == "post":
        return client.post(url, json=body, headers=headers).status_code
    return getattr(client, method)(url, headers=headers).status_code


def test_admin_api_is_401_without_a_valid_key_and_403_without_admin(
    client: TestClient, services: Services
) -> None:
    target = _key(services, "target", "records:read_personal")
    everything_but_admin = _key(services, "nearly", *(s for s in SCOPES if s != "admin"))
    for method, url, body in ADMIN_CALLS:
        assert _call(client, method, url, body, {}) == 401, url
        assert _call(client, method, url, body, {"X-API-Key": "sohoa_forged"}) == 401, url
        resp = client.request(method.upper(), url, json=body, headers=everything_but_admin)
        assert resp.status_code == 403, url
        assert resp.json()["error"]["code"] == "forbidden"
    # None of that changed the key or wrote a key change to the audit log.
    assert _works(client, target["X-API-Key"]) == 200
    assert not [e for e in _entries(services) if e.action.startswith("apikey.")]


def test_create_list_rotate_revoke_through_the_admin_api(
    client: TestClient, services: Services
) -> None:
    admin = _key(services, "ops", "admin")
    resp = client.post(
        "/api/v1/admin/keys",
        json={
            "name": "portal",
            "scopes": ["records:read_personal"],
            "agency_code": AGENCY,
            "rate_limit_per_minute": 1200,
        },
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    first, key_id = created["secret"], created["key"]["id"]
    assert first.startswith("sohoa_")
    assert created["key"]["scopes"] == ["records:read_personal"]
    assert created["key"]["rate_limit_per_minute"] == 1200
    assert _works(client, first) == 200

    listed = client.get("/api/v1/admin/keys", headers=admin)
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()["keys"]] == ["ops", "portal"]
    assert first not in listed.text and hash_key(first) not in listed.text
    assert "secret" not in listed.text and "hash" not in listed.text

    rotated = client.post(f"/api/v1/admin/keys/{key_id}/rotate", headers=admin)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["secret"]
    assert second != first
    assert rotated.json()["key"]["id"] == key_id
    assert rotated.json()["key"]["rotated_at"] is not None
    assert _works(client, first) == 401  # cached a moment ago, refused at once all the same
    assert _works(client, second) == 200

    revoked = client.post(f"/api/v1/admin/keys/{key_id}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False
    assert _works(client, second) == 401
    assert client.post(f"/api/v1/admin/keys/{key_id}/rotate", headers=admin).status_code == 409
    # Revoking again changes nothing and is not audited twice.
    assert client.delete(f"/api/v1/admin/keys/{key_id}", headers=admin).status_code == 200
    active = client.get("/api/v1/admin/keys?include_revoked=false", headers=admin).json()
    assert [k["name"] for k in active["keys"]] == ["ops"]

    changes = [(e.actor, e.action) for e in _entries(services) if e.action.startswith("apikey.")]
    assert changes == [
        ("ops", "apikey.create"),
        ("ops", "apikey.rotate"),
        ("ops", "apikey.revoke"),
    ]
    for e in _entries(services):
        for secret in (first, second):
            assert secret not in (e.detail or "")
            assert hash_key(secret) not in (e.detail or "")
    with services.sessions() as s:
        assert verify_chain(s) == (True, None)


def test_bad_requests_are_refused(client: TestClient, services: Services) -> None:
    admin = _key(services, "ops", "admin")
    bad = client.post("/api/v1/admin/keys", json={"name": "x", "scopes": ["root"]}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_key_request"
    assert client.post("/api/v1/admin/keys/999/rotate", headers=admin).status_code == 404
    assert client.delete("/api/v1/admin/keys/999", headers=admin).status_code == 404
    too_long = client.post(
        "/api/v1/admin/keys/1/rotate", json={"grace_seconds": 10**6}, headers=admin
    )
    assert too_long.status_code == 422
    assert _works(client, admin["X-API-Key"]) == 200  # the refused rotation changed nothing


def test_rotation_grace_keeps_the_old_secret_briefly(
    client: TestClient, services: Services
) -> None:
    admin = _key(services, "ops", "admin")
    old = _key(services, "portal", "records:read_personal")["X-API-Key"]
    with services.sessions() as s:
        key_id = s.scalar(select(ApiKey.id).where(ApiKey.name == "portal"))
    assert _works(client, old) == 200  # now cached for 30 s
    resp = client.post(
        f"/api/v1/admin/keys/{key_id}/rotate", json={"grace_seconds": 1}, headers=admin
    )
    new = resp.json()["secret"]
    assert resp.json()["key"]["previous_valid_until"] is not None
    assert _works(client, old) == 200
    assert _works(client, new) == 200
    time.sleep(1.2)  # the grace ends before the cache's 30 s would
    assert _works(client, old) == 401
    assert _works(client, new) == 200
    # Revoking also ends a grace still running.
    client.post(f"/api/v1/admin/keys/{key_id}/rotate", json={"grace_seconds": 60}, headers=admin)
    assert _works(client, new) == 200
    client.post(f"/api/v1/admin/keys/{key_id}/revoke", headers=admin)
    assert _works(client, new) == 401


def test_a_revocation_elsewhere_takes_effect_within_the_cache_ttl(tmp_path: Path) -> None:
    env = {**embedded_env(tmp_path), "SOHOA_AUTH_CACHE_TTL_S": "0.5"}
    services = Services.from_settings(settings_from(env))
    secret = _key(services, "portal", "records:read_personal")["X-API-Key"]
    with TestClient(create_app(services)) as client:
        assert _works(client, secret) == 200
        # Another process revokes it: this one's cache does not hear of it.
        with services.sessions() as s:
            s.execute(update(ApiKey).values(revoked_at=ApiKey.created_at))
            s.commit()
        time.sleep(0.6)
        assert _works(client, secret) == 401
    with services.sessions() as s:
        assert authenticate(s, secret) is None


def _sohoa(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_lists_rotates_and_revokes(env: dict[str, str], tmp_path: Path) -> None:
    made = _sohoa(env, tmp_path, "apikey", "create", "portal", "--scope", "records:read")
    assert made.returncode == 0, made.stderr
    first = made.stdout.strip()
    services = Services.from_settings(settings_from(env))

    listed = _sohoa(env, tmp_path, "apikey", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert '"name": "portal"' in listed.stdout
    assert first not in listed.stdout and hash_key(first) not in listed.stdout

    rotated = _sohoa(env, tmp_path, "apikey", "rotate", "1")
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.strip()
    assert second.startswith("sohoa_") and second != first
    with services.sessions() as s:
        assert authenticate(s, first) is None
        found = authenticate(s, second)
        assert found is not None and found.name == "portal"

    assert _sohoa(env, tmp_path, "apikey", "revoke", "1").returncode == 0
    assert _sohoa(env, tmp_path, "apikey", "rotate", "1").returncode == 2
    assert _sohoa(env, tmp_path, "apikey", "revoke", "7").returncode == 2
    with services.sessions() as s:
        assert authenticate(s, second) is None

    entries = _entries(services)
    assert [e.action for e in entries] == ["apikey.create", "apikey.rotate", "apikey.revoke"]
    assert all(e.actor.startswith("cli:") for e in entries)
    for e in entries:
        assert first not in (e.detail or "") and second not in (e.detail or "")
    with services.sessions() as s:
        assert verify_chain(s) == (True, None)
