"""The HTTP API: upload scans, follow their progress, fetch, reuse, download and verify records.

Every call is authenticated with an `X-API-Key`; every read of a record is
written to the (hash-chained) audit log before the data leaves, with the purpose
and dossier code the caller gives in the `X-Purpose` and `X-Dossier-Code` headers.
The routes live in `api/routes/`, one module per part of the API.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from api.fastlane import FastLane
from api.ratelimit import RateLimiter
from api.reads import PgReads, is_postgres
from api.routes import admin, audit, monitoring, pages, records, reuse, scans, web, webhooks
from workers.services import Services


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: not_found, invalid_request, ...")
    message: str
    details: list[dict[str, Any]] | None = Field(
        default=None, description="invalid_request only: what was wrong, where (loc)."
    )


class ErrorResponse(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


#: Error answers every operation may give (all go through `need()`), and what they mean.
COMMON_ERRORS: dict[int, str] = {
    401: "No valid X-API-Key.",
    403: "The key lacks the scope, or acts for another agency.",
    422: "Invalid input: parameters, body or the X-Dossier-Code header.",
    429: "Too many requests for this key; see Retry-After.",
    503: "A backing service (storage, broker) is unavailable; retry later.",
}
ERROR_TEXT: dict[int, str] = {
    **COMMON_ERRORS,
    400: "The request body could not be read (not JSON, not form data).",
    404: "No such resource (or not visible to this key).",
    409: "Not possible in the resource's current state.",
    410: "The stored file is gone.",
}
#: The `code` of errors raised with a plain message (by FastAPI and Starlette themselves).
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
}
#: Sent on every call; declared on every operation (need() reads them).
CALL_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Purpose",
        "in": "header",
        "required": False,
        "description": "Why the data is read (audited); UTF-8 percent-encoded.",
        "schema": {"type": "string"},
    },
    {
        "name": "X-Dossier-Code",
        "in": "header",
        "required": False,
        "description": "The dossier the read is for (audited), e.g. 000.00.00.H55-240601-0001.",
        "schema": {"type": "string"},
    },
]


def _document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the error answers as they are served (one shape for all)."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorResponse"] = error_schema
    doc["components"]["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    }
    doc["security"] = [{"ApiKey": []}]
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path, ops in doc.get("paths", {}).items():
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            codes = set(COMMON_ERRORS) | {int(c) for c in responses if c.isdigit()}
            if "{" in path:
                codes.add(404)
            if method != "get":
                codes.add(409)
            if "requestBody" in op:
                codes.add(400)
            for code in sorted(c for c in codes if c >= 400):
                declared = responses.setdefault(str(code), {})
                if code == 422 or not declared.get("description"):  # not "Validation Error"
                    declared["description"] = ERROR_TEXT.get(code, "Error.")
                declared["content"] = ref
                if code == 429:
                    declared["headers"] = {
                        "Retry-After": {
                            "description": "Seconds until the next call is allowed.",
                            "schema": {"type": "string"},
                        }
                    }
            op["responses"] = dict(sorted(responses.items()))
            params = op.setdefault("parameters", [])
            names = {p.get("name", "").lower() for p in params}
            params.extend(h for h in CALL_HEADERS if h["name"].lower() not in names)
    return doc


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On PostgreSQL: the hot reads' asyncpg pool and the audit sealer (api/reads.py)."""
    from api.sealer import Sealer

    services: Services | None = app.state.services  # None: an app serving its document only
    # Everything loaded so far lives as long as the process: out of the collector's
    # sight, a full collection no longer walks it (tens of ms, a p99 spike each time).
    gc.freeze()
    if services is None or not is_postgres(services.settings.db_url):
        yield
        return
    reads = app.state.reads = await PgReads(services.settings.db_url).start()
    app.state.fast_lane = FastLane(reads, services.settings, app.state.rate_limiter)
    sealer = Sealer(reads).start()
    try:
        yield
    finally:
        app.state.fast_lane = None
        app.state.reads = None
        await sealer.stop()
        await reads.close()


class SohoaApi(FastAPI):
    """FastAPI, with the hot reads' fast lane (api/fastlane.py) in front when it runs."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane: FastLane | None = self.state.fast_lane if scope["type"] == "http" else None
        if lane is not None and await lane(scope, send):
            return
        await super().__call__(scope, receive, send)


def create_app(services: Services) -> FastAPI:
    app = SohoaApi(
        lifespan=_lifespan,
        title="sohoa",
        version="0.1.0",
        description="Digitised, reusable records of citizens' papers. Every call needs an"
        ' `X-API-Key`; every error answer is `{"error": {"code", "message"}}`.',
    )
    app.state.services = services
    app.state.reads = None  # PgReads while the app runs on PostgreSQL
    app.state.fast_lane = None  # FastLane likewise
    app.state.rate_limiter = RateLimiter()  # shared by the routes and the fast lane
    for module in (scans, records, pages, reuse, audit, admin, webhooks, monitoring, web):
        app.include_router(module.router)

    # Starlette's class: FastAPI's HTTPException and the router's own 404 and 405 alike.
    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        detail = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"code": HTTP_CODES.get(exc.status_code, "http_error"), "message": str(exc.detail)}
        )
        return JSONResponse(
            status_code=exc.status_code, content={"error": detail}, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        where = ", ".join(".".join(str(p) for p in d["loc"]) for d in details[:3])
        return JSONResponse(
            status_code=422,
            content=jsonable_encoder(
                {
                    "error": {
                        "code": "invalid_request",
                        "message": f"Invalid input: {where}.",
                        "details": details,
                    }
                }
            ),
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def app_from_environment() -> FastAPI:
    """The app as `sohoa serve --workers N` starts it in each process: settings from the
    environment, the database already migrated by the parent."""
    from config.settings import load_settings
    from workers.app import configure

    settings = load_settings()
    configure(settings)
    return create_app(Services.from_settings(settings, migrate_db=False))
