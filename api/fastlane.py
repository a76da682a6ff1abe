"""The two hot reads, answered before FastAPI's per-call machinery when nothing is in doubt.

Other systems call `GET /api/v1/records/{code}` and
`GET /api/v1/citizens/{personal_id}/records` for every dossier at every counter.
Through FastAPI each call pays its middleware stack, dependency resolution and
parameter models, several times the work of the read itself (make bench-api). On
PostgreSQL (when api/reads.py is running) this lane answers such a call directly,
but only the plain case: a key already in the process's key cache with the scope,
a token in its rate-limit bucket, parameters that are plainly valid, and a record
that exists. Anything else (no or unknown key, missing scope, odd parameters,
an empty bucket, a miss, the database away) goes on to the FastAPI route, which
gives the one canonical answer, error or not. The lane writes the same audit
entry and returns the same bytes as the route (tests/api/test_fastlane.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import Scope, Send

from api.deps import Caller, clean_text, key_limit, who
from api.keys import cached_client
from api.ratelimit import RateLimiter
from api.reads import PgReads, Unavailable, Who
from config.settings import Settings
from pipeline import errors
from pipeline.intake import check_dossier_code

SCOPE = "records:read_personal"
_RECORD = re.compile(r"^/api/v1/records/([0-9A-Za-z._-]{1,200})$")
_CITIZEN = re.compile(r"^/api/v1/citizens/(\d{12}|\d{9})/records$")
_DOC_TYPE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LIMIT = re.compile(r"^[1-9]\d{0,2}$")
_JSON = [(b"content-type", b"application/json")]


class FastLane:
    def __init__(self, reads: PgReads, settings: Settings, limiter: RateLimiter) -> None:
        self.reads = reads
        self.settings = settings
        self.limiter = limiter
        #: Calls answered here and calls handed on: the tests read them.
        self.answered = 0
        self.handed_on = 0

    async def __call__(self, scope: Scope, send: Send) -> bool:
        """True when the call was answered here; False: the full app must answer it."""
        done = await self._answer(scope, send)
        if done:
            self.answered += 1
        else:
            self.handed_on += 1
        return done

    async def _answer(self, scope: Scope, send: Send) -> bool:
        if scope["method"] != "GET":
            return False
        read = self._read_for(scope["path"], scope["query_string"])
        if read is None:
            return False
        caller = self._caller(scope["headers"])
        if caller is None:
            return False
        try:
            body = await read(who(caller))
        except Unavailable:
            body = None
        if body is None:  # a miss or the database away: the route answers, and counts the call
            self.limiter.give_back(caller.client.key_id or 0)
            return False
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def _read_for(
        self, path: str, query_string: bytes
    ) -> Callable[[Who], Awaitable[bytes | None]] | None:
        """The read this call asks for, when its path and parameters are plainly valid."""
        record = _RECORD.match(path)
        if record:
            return None if query_string else partial(self.reads.record, record[1])
        citizen = _CITIZEN.match(path)
        query = _citizen_query(query_string) if citizen else None
        if citizen is None or query is None:
            return None
        return partial(
            self.reads.citizen,
            citizen[1],
            query.get("doc_type"),
            query.get("valid_on") or dt.date.today(),
            query.get("limit") or 100,
        )

    def _caller(self, raw: list[tuple[bytes, bytes]]) -> Caller | None:
        """The caller when its key is cached, has the scope and has a token; else None."""
        headers = {k: v for k, v in raw if k in (b"x-api-key", b"x-purpose", b"x-dossier-code")}
        key = headers.get(b"x-api-key")
        if key is None:
            return None
        hit, client = cached_client(key.decode("latin-1"), self.settings.auth_cache_ttl_s)
        if not hit or client is None or not client.allows(SCOPE):
            return None
        try:
            dossier = check_dossier_code(headers.get(b"x-dossier-code", b"").decode("latin-1"))
        except errors.InvalidDossierCode:
            return None
        # Last: a call handed on before this point has spent no token here.
        per_minute = key_limit(client, self.settings)
        if self.limiter.take(client.key_id or 0, per_minute, self.settings.rate_limit_burst_s):
            return None  # empty bucket: the route answers 429 (its take spends nothing either)
        purpose = clean_text(unquote(headers.get(b"x-purpose", b"").decode("latin-1")))
        return Caller(client, purpose, dossier)


def _citizen_query(raw: bytes) -> dict[str, Any] | None:
    """doc_type, valid_on and limit when each is plainly valid and given once; else None."""
    if not raw:
        return {}
    out: dict[str, Any] = {}
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    for name, value in pairs:
        if name in out:
            return None
        if name == "doc_type" and _DOC_TYPE.match(value):
            out[name] = value
        elif name == "valid_on" and _DAY.match(value):
            try:
                out[name] = dt.date.fromisoformat(value)
            except ValueError:
                return None
        elif name == "limit" and _LIMIT.match(value) and int(value) <= 500:
            out[name] = int(value)
        else:
            return None
    return out
