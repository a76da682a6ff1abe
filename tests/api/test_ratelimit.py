"""Rate limiting per key: a token bucket, 429 with a whole-seconds Retry-After."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import create_key
from api.ratelimit import RateLimiter, retry_after
from tests.conftest import embedded_env, settings_from
from workers.services import Services

PROBE = "/api/v1/documents/nope"  # scope records:read; 404 when allowed


def test_bucket_spends_bursts_then_refills() -> None:
    rl = RateLimiter()
    # 60/min, 3 s of burst: three at once, then one a second.
    assert [rl.take(1, 60, 3.0, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.take(1, 60, 3.0, now=100.0) == 1.0
    assert rl.take(2, 60, 3.0, now=100.0) == 0.0  # another key has its own bucket
    assert rl.take(1, 60, 3.0, now=100.5) == 0.5
    assert rl.take(1, 60, 3.0, now=101.01) == 0.0
    assert rl.take(1, 60, 3.0, now=101.01) > 0.9
    assert rl.take(1, 0, now=101.01) == 0.0  # 0: no limit
    # A bucket holds at least one request, and refills at the key's own rate.
    assert rl.take(3, 6, 1.0, now=0.0) == 0.0
    assert rl.take(3, 6, 1.0, now=0.0) == 10.0


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after(w) for w in (0.001, 0.5, 1.0, 1.01, 9.2)] == ["1", "1", "1", "2", "10"]


def test_api_answers_429_with_retry_after_per_key(tmp_path: Path) -> None:
    env = {
        **embedded_env(tmp_path),
        "SOHOA_RATE_LIMIT_PER_MINUTE": "6",
        "SOHOA_RATE_LIMIT_BURST_S": "20",  # two requests at once
    }
    services = Services.from_settings(settings_from(env))
    with services.sessions() as s:
        limited = {"X-API-Key": create_key(s, "a", ["records:read"])}
        other = {"X-API-Key": create_key(s, "b", ["records:read"])}
        unlimited = {"X-API-Key": create_key(s, "c", ["records:read"], rate_limit_per_minute=0)}
        generous = {"X-API-Key": create_key(s, "d", ["records:read"], rate_limit_per_minute=6000)}
    with TestClient(create_app(services)) as client:
        assert [client.get(PROBE, headers=limited).status_code for _ in range(2)] == [404, 404]
        resp = client.get(PROBE, headers=limited)
        assert resp.status_code == 429
        assert resp.json()["error"]["code"] == "rate_limited"
        assert resp.headers["Retry-After"].isdigit()
        assert 1 <= int(resp.headers["Retry-After"]) <= 10  # 6/min: a token every 10 s
        assert client.get(PROBE, headers=other).status_code == 404
        assert all(client.get(PROBE, headers=unlimited).status_code == 404 for _ in range(30))
        assert all(client.get(PROBE, headers=generous).status_code == 404 for _ in range(30))
        # A missing key is 401, not 429: the limit is per key.
        assert client.get(PROBE).status_code == 401
