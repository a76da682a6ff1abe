"""The HTTP API: upload scans, follow their progress, fetch, reuse, download and verify records.

Every call is authenticated with an `X-API-Key`; every read of a record is
written to the (hash-chained) audit log before the data leaves, with the purpose
and dossier code the caller gives in the `X-Purpose` and `X-Dossier-Code` headers.
The routes live in `api/routes/`, one module per part of the API.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from api.routes import admin, audit, records, reuse, scans, webhooks
from workers.services import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="sohoa",
        version="0.1.0",
        description="Digitised, reusable records of citizens' papers.",
    )
    app.state.services = services
    for module in (scans, records, reuse, audit, admin, webhooks):
        app.include_router(module.router)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        detail = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"code": "http_error", "message": str(exc.detail)}
        )
        return JSONResponse(
            status_code=exc.status_code, content={"error": detail}, headers=exc.headers
        )

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
