"""The API under test: each module gives its own `services` fixture (embedded or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from schemas.audit import pending
from tests.conftest import embedded_env, settings_from
from workers.app import configure
from workers.services import Services


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as c:
        yield c


def pg_services(tmp_path: Path, database_url: str, **env: str) -> Services:
    """Services on the embedded default but for the database: PostgreSQL at `database_url`."""
    settings = settings_from({**embedded_env(tmp_path), "SOHOA_DATABASE_URL": database_url, **env})
    configure(settings)
    return Services.from_settings(settings)


def wait_sealed(services: Services, timeout: float = 10.0) -> None:
    """Wait for the running app's sealer to chain every pending audit entry."""
    deadline = time.monotonic() + timeout
    while True:
        with services.sessions() as s:
            if pending(s) == 0:
                return
        assert time.monotonic() < deadline, "audit entries still pending"
        time.sleep(0.1)
