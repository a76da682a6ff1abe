"""The served OpenAPI document, and a schemathesis run against it.

Every operation is called with generated (valid and invalid) input by a key holding
every scope; no answer may be a 5xx, and every answer must match what the document
declares for that operation (status code and body). The app runs on the embedded
default (SQLite, a folder, the server-less broker) and again on PostgreSQL (which
refuses what SQLite takes: NUL in text, integers past 32 bits), seeded with a few
real records so that some generated calls reach real data. Seeded and budgeted
(MAX_EXAMPLES, a fixed seed): a run repeats the previous one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.keys import SCOPES, issue_key
from schemas.record import RecordStatus
from schemas.webhooks import WebhookSubscription
from tests.api.test_lifecycle import DOSSIER, OTHER_PID, PID, TODAY, _card, _digitise
from tests.conftest import embedded_env, fresh_pg_database, settings_from
from workers.app import configure
from workers.services import Services

#: Per operation and phase; with the coverage phase's own cases this keeps the file near 2 min.
MAX_EXAMPLES = 15
SEED = 20240601
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
]


@dataclass(frozen=True)
class Seeded:
    services: Services
    app: FastAPI
    headers: dict[str, str]
    key_id: int
    decoy_key_id: int
    #: Real values for path parameters, by parameter name.
    real: dict[str, list[Any]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """The embedded default, and the same on PostgreSQL (what production runs on)."""
    with ExitStack() as stack:
        tmp: Path = tmp_path_factory.mktemp("openapi")
        env = embedded_env(tmp)
        if request.param == "postgresql":
            env["SOHOA_DATABASE_URL"] = stack.enter_context(fresh_pg_database("sohoa_oa"))
        yield _seed(env)


def _seed(env: dict[str, str]) -> Seeded:
    # The per-key limit (600/min) would turn most of the run into 429s: this run tests
    # the routes, tests/api/test_ratelimit.py tests the limiter.
    env["SOHOA_RATE_LIMIT_PER_MINUTE"] = "0"
    settings = settings_from(env)
    configure(settings)
    services = Services.from_settings(settings)
    published = _digitise(services, _card(), status=RecordStatus.digitised, dossier=DOSSIER)
    pending = _digitise(services, _card(pid=OTHER_PID))
    with services.sessions() as s:
        info, key = issue_key(s, "schemathesis", list(SCOPES))
        decoy, _ = issue_key(s, "decoy", ["records:read"])
        sub = WebhookSubscription(
            owner="schemathesis",
            agency_code=None,
            url="https://receiver.example.gov.vn/hook",
            events=["record.published"],
            secret="s" * 32,
            active=True,
        )
        s.add(sub)
        s.commit()
        sub_id = sub.id
    real: dict[str, list[Any]] = {
        "record_code": [published.record_code, pending.record_code],
        "personal_id": [PID, OTHER_PID],
        "dossier_code": [DOSSIER, f"000.00.00.H55-{TODAY:%y%m%d}-0099"],
        "document_id": [published.document_id, pending.document_id],
        "subscription_id": [sub_id],
        "version": [1],
        "page": [1],
        "kind": ["pdf", "json", "text", "original"],
        "key_id": [decoy.id],
    }
    return Seeded(
        services=services,
        app=create_app(services),
        headers={"X-API-Key": key},
        key_id=info.id,
        decoy_key_id=decoy.id,
        real=real,
    )


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(seeded.app) as c:
        yield c


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    doc = client.get("/openapi.json")
    assert doc.status_code == 200
    spec = doc.json()
    assert spec["info"]["title"] == "sohoa"
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") and op.get("description"), f"{method} {path}"
            for code in ("401", "403", "422", "429"):
                assert code in op["responses"], f"{method} {path} does not declare {code}"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


_turn = itertools.count()


def _steer(case: schemathesis.Case, seeded: Seeded) -> None:
    """Every other call with a path parameter goes to a real, seeded value instead."""
    params = case.path_parameters or {}
    n = next(_turn)
    for name in list(params):
        if name == "key_id" and params[name] == seeded.key_id:
            # Rotating or revoking the run's own key would make every later call a 401.
            params[name] = seeded.decoy_key_id
        elif name in seeded.real and n % 2 == 0:
            values = seeded.real[name]
            params[name] = values[n // 2 % len(values)]


# The document does not depend on the services: it is loaded (served by an app without
# any) when the module is collected, so that every operation is a test of its own. The
# generated calls go to the seeded app (`app=` below).
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(cast(Services, None)),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            # Stateful runs follow links between operations, which the document does not declare.
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@schema.parametrize()
def test_every_operation_answers_as_documented(case: schemathesis.Case, seeded: Seeded) -> None:
    _steer(case, seeded)
    case.call_and_validate(app=seeded.app, headers=seeded.headers, checks=CHECKS)
