"""The HTTP API on the embedded default: authentication, scopes, upload, rejection."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.keys import create_key
from schemas.db import AuditEntry
from tests import badfiles
from tests.conftest import embedded_env, settings_from
from workers.app import configure
from workers.services import Services, original_key


@pytest.fixture
def services(tmp_path: Path) -> Services:
    settings = settings_from(embedded_env(tmp_path))
    configure(settings)
    return Services.from_settings(settings)


def _key(services: Services, *scopes: str) -> dict[str, str]:
    with services.sessions() as s:
        return {"X-API-Key": create_key(s, "test-client", list(scopes))}


def test_every_call_needs_a_key(client: TestClient) -> None:
    for method, url in [
        ("get", "/api/v1/documents/abc"),
        ("get", "/api/v1/records?personal_id=001099012345"),
        ("get", "/api/v1/records/x.y.z.01"),
        ("get", "/api/v1/records/x.y.z.01/files/pdf"),
        ("post", "/api/v1/scans"),
    ]:
        resp = getattr(client, method)(url)
        assert resp.status_code == 401, url
        assert resp.json()["error"]["code"] == "unauthenticated"
        resp = getattr(client, method)(url, headers={"X-API-Key": "sohoa_wrong"})
        assert resp.status_code == 401


def test_scope_is_enforced_without_revealing_existence(
    client: TestClient, services: Services
) -> None:
    headers = _key(services, "records:read")
    resp = client.get("/api/v1/records/does.not.exist.01", headers=headers)
    assert resp.status_code == 403
    resp = client.post("/api/v1/scans", headers=headers, files={"files": ("a.pdf", b"x")})
    assert resp.status_code == 403


def test_upload_rejects_bad_inputs_and_keeps_originals(
    client: TestClient, services: Services
) -> None:
    headers = _key(services, "scans:write", "records:read")
    for name, data, code in badfiles.bad_inputs():
        resp = client.post("/api/v1/scans", headers=headers, files={"files": (name, data)})
        assert resp.status_code == 202, resp.text
        doc = resp.json()["documents"][0]
        assert doc["status"] == "rejected"
        assert doc["error"]["code"] == code
        assert services.store.get(original_key(doc["sha256"])) == data
        status = client.get(f"/api/v1/documents/{doc['id']}", headers=headers).json()
        assert status["status"] == "rejected"
        assert status["error"]["code"] == code


def test_bad_dossier_code_is_422(client: TestClient, services: Services) -> None:
    headers = _key(services, "scans:write")
    resp = client.post(
        "/api/v1/scans",
        headers=headers,
        files={"files": ("a.pdf", badfiles.small_pdf())},
        data={"dossier_code": "not-a-code"},
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_dossier_code"


def test_record_search_is_audited(client: TestClient, services: Services) -> None:
    headers = _key(services, "records:read_personal")
    resp = client.get("/api/v1/records?personal_id=001099012345", headers=headers)
    assert resp.status_code == 200
    assert resp.json() == {"records": []}
    with services.sessions() as s:
        entries = s.query(AuditEntry).all()
    assert [(e.actor, e.action, e.personal_id) for e in entries] == [
        ("test-client", "records.search", "001099012345")
    ]
