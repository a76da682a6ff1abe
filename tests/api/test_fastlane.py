"""The fast lane (api/fastlane.py) answers only the plain case and hands every other call
to the FastAPI route, whose answer is then the one the caller gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.fastlane import FastLane
from api.keys import create_key
from tests.api.conftest import pg_services
from tests.api.test_reads import AGENCY, DOSSIER, PID, _audited, _hold
from workers.services import Services


@pytest.fixture
def services(tmp_path: Path, empty_pg_url: str) -> Services:
    return pg_services(tmp_path, empty_pg_url)


@pytest.fixture
def api(client: TestClient) -> TestClient:
    return client  # tests/api/conftest.py's app client, on the PostgreSQL services above


def _lane(api: TestClient) -> FastLane:
    lane = api.app.state.fast_lane  # type: ignore[attr-defined]
    assert isinstance(lane, FastLane)
    return lane


def _key(services: Services, *scopes: str, per_minute: int | None = None) -> dict[str, str]:
    with services.sessions() as s:
        return {"X-API-Key": create_key(s, "portal", list(scopes), AGENCY, per_minute)}


def test_plain_calls_are_answered_in_the_lane_once_the_key_is_known(
    api: TestClient, services: Services
) -> None:
    codes = _hold(services)
    headers = {**_key(services, "records:read_personal"), "X-Dossier-Code": DOSSIER}
    lane = _lane(api)
    first = api.get(f"/api/v1/records/{codes[0]}", headers=headers)
    assert first.status_code == 200
    assert (lane.answered, lane.handed_on) == (0, 1)  # the key was not cached yet
    again = api.get(f"/api/v1/records/{codes[0]}", headers=headers)
    assert again.content == first.content
    listed = api.get(
        f"/api/v1/citizens/{PID}/records",
        params={"doc_type": "citizen_id_card", "valid_on": "2030-01-02", "limit": "5"},
        headers=headers,
    )
    assert listed.status_code == 200 and len(listed.json()["records"]) == 1
    assert (lane.answered, lane.handed_on) == (2, 1)
    entries = _audited(services)
    assert entries[0] == entries[1]  # route and lane write the same entry
    assert entries[2][2:5] == ("citizen.records", None, PID)
    assert entries[2][7] == "doc_type=citizen_id_card valid_on=2030-01-02 hits=1"


@pytest.mark.parametrize(
    ("path", "params", "extra", "status", "code"),
    [
        ("/api/v1/records/{code}", {}, {"X-API-Key": "sohoa_nope"}, 401, "unauthenticated"),
        ("/api/v1/records/{code}", {}, {"X-Dossier-Code": "H55-1"}, 422, "invalid_dossier_code"),
        ("/api/v1/records/{pid}.diploma.none.01", {}, {}, 404, "not_found"),
        ("/api/v1/citizens/{pid}/records", {"limit": "0"}, {}, 422, "invalid_request"),
        ("/api/v1/citizens/{pid}/records", {"limit": "501"}, {}, 422, "invalid_request"),
        ("/api/v1/citizens/{pid}/records", {"valid_on": "2024-02-30"}, {}, 422, "invalid_request"),
        ("/api/v1/citizens/{pid}/records", {"doc_type": "a b"}, {}, 422, "invalid_request"),
        ("/api/v1/citizens/12345/records", {}, {}, 422, "invalid_request"),
    ],
)
def test_every_other_call_gets_the_routes_answer(
    api: TestClient,
    services: Services,
    path: str,
    params: dict[str, str],
    extra: dict[str, str],
    status: int,
    code: str,
) -> None:
    codes = _hold(services)
    headers = _key(services, "records:read_personal")
    assert api.get(f"/api/v1/records/{codes[0]}", headers=headers).status_code == 200  # cached
    lane = _lane(api)
    answered = lane.answered
    url = path.format(code=codes[0], pid=PID)
    resp = api.get(url, params=params, headers={**headers, **extra})
    assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), resp.text
    assert lane.answered == answered


def test_a_key_without_the_scope_gets_403_from_the_route(
    api: TestClient, services: Services
) -> None:
    codes = _hold(services)
    headers = _key(services, "records:read")
    for _ in range(2):  # the second call finds the key cached: still the route's 403
        resp = api.get(f"/api/v1/records/{codes[0]}", headers=headers)
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "forbidden"
    assert _lane(api).answered == 0
    assert _audited(services) == []


def test_the_rate_limit_counts_each_call_once_in_either_path(
    api: TestClient, services: Services
) -> None:
    """60 a minute with the default 6 s burst: 6 calls pass, whoever answers them (a miss
    handed on to the route is counted once), and the next gets the route's 429."""
    codes = _hold(services)
    headers = _key(services, "records:read_personal", per_minute=60)
    ok = [f"/api/v1/records/{codes[0]}", f"/api/v1/records/{PID}.diploma.none.01"] * 3
    statuses = [api.get(url, headers=headers).status_code for url in ok]
    assert statuses == [200, 404] * 3
    refused = api.get(f"/api/v1/records/{codes[0]}", headers=headers)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert _lane(api).answered == 2  # the first call cached the key; misses went on
