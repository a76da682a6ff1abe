"""The numbers behind the fault handling: backoff with jitter, time limits, visibility."""

from __future__ import annotations

from config.settings import Settings
from workers.app import broker_transport_options, page_time_limit_s, visibility_timeout_s
from workers.tasks import BACKOFF_CAP_S, MAX_RETRIES, backoff_s


def test_backoff_grows_is_capped_and_jittered() -> None:
    for n in range(MAX_RETRIES + 1):
        ceiling = min(BACKOFF_CAP_S, 2.0 * 2**n)
        waits = {backoff_s(n) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jitter: tasks failing together do not retry together
    # Waiting out an outage of ~2 minutes at least before a document is parked.
    assert sum(min(BACKOFF_CAP_S, 2.0 * 2**n) / 2 for n in range(MAX_RETRIES)) >= 120


def test_visibility_timeout_exceeds_the_longest_page() -> None:
    settings = Settings(_env_file=None, page_timeout_s=300)  # type: ignore[call-arg]
    assert settings.page_timeout_s < page_time_limit_s(settings) < visibility_timeout_s(settings)
    options = broker_transport_options("redis://x:6379/0", visibility_timeout_s(settings))
    assert options["visibility_timeout"] == visibility_timeout_s(settings)
    assert broker_transport_options("amqp://guest@x//", 99) == {}
