"""The two reads other systems make most, on PostgreSQL: one statement each, through asyncpg.

`GET /api/v1/records/{code}` and `GET /api/v1/citizens/{pid}/records` are called at
every counter for every dossier. Each is a single round trip: the SELECT and the
INSERT of its audit entry are one statement (a data-modifying CTE), so the entry
is committed with the read, before any data leaves; the entry is written pending
(a row in audit_pending), without the chain's lock, and api/sealer.py chains it.
The server assembles the response body from the stored JSON and hands it over as
UTF-8 bytes: nothing is parsed, decoded or re-encoded here. asyncpg prepares each statement once per
connection.

On SQLite (the embedded default) the routes take their SQLAlchemy path instead;
the tests run both and expect the same answers and the same audit entries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from schemas.record import RecordStatus, Validity

#: Connections per API process: SQLAlchemy's default pool (5 + 10 overflow).
POOL_SIZE = 15

_RECORD = """
WITH hit AS (
    SELECT record_code, personal_id, body FROM records WHERE record_code = $1
), logged AS (
    INSERT INTO audit_log
        (at, actor, agency_code, action, record_code, personal_id, dossier_code, purpose)
    SELECT now(), $2, $3, 'record.read', record_code, personal_id, $4, $5 FROM hit
    RETURNING id
), queued AS (
    INSERT INTO audit_pending (entry_id) SELECT id FROM logged
)
SELECT convert_to(body::text, 'UTF8') FROM hit
"""

_CITIZEN = """
WITH hits AS (
    SELECT id, valid_from, body FROM records
    WHERE personal_id = $1
      AND status = '{published}'
      AND validity <> '{unknown}'
      AND (valid_from IS NULL OR valid_from <= $2)
      AND (valid_until IS NULL OR valid_until >= $2)
      {doc_type}
    ORDER BY valid_from DESC NULLS LAST, id DESC
    LIMIT $3
), logged AS (
    INSERT INTO audit_log
        (at, actor, agency_code, action, personal_id, dossier_code, purpose, detail)
    SELECT now(), $4, $5, 'citizen.records', $1, $6, $7,
           $8 || (SELECT count(*) FROM hits)::text
    RETURNING id
), queued AS (
    INSERT INTO audit_pending (entry_id) SELECT id FROM logged
)
SELECT convert_to(
    '{{"records":['
    || coalesce(string_agg(body::text, ',' ORDER BY valid_from DESC NULLS LAST, id DESC), '')
    || ']}}',
    'UTF8'
) FROM hits
"""


def _citizen_sql(with_doc_type: bool) -> str:
    """Two statements, with and without the type filter: each gets a plan of its own."""
    return _CITIZEN.format(
        published=RecordStatus.published.value,
        unknown=Validity.unknown.value,
        doc_type="AND doc_type = $9" if with_doc_type else "",
    )


_CITIZEN_ANY, _CITIZEN_TYPED = _citizen_sql(False), _citizen_sql(True)


@dataclass(frozen=True)
class Who:
    """What the audit entry says about the caller."""

    actor: str
    agency_code: str | None
    dossier_code: str | None
    purpose: str | None


class Unavailable(Exception):
    """PostgreSQL could not be reached; the route answers 503."""


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


def is_postgres(sqlalchemy_url: str) -> bool:
    return make_url(sqlalchemy_url).get_backend_name() == "postgresql"


#: What asyncpg raises when the server cannot be reached or drops the connection.
_UNREACHABLE = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


async def _nothing_to_reset(_con: Any) -> None:
    return None


class PgReads:
    def __init__(self, sqlalchemy_url: str, pool_size: int = POOL_SIZE) -> None:
        self._dsn = asyncpg_dsn(sqlalchemy_url)
        self._pool_size = pool_size
        self._pool: Any = None

    async def start(self) -> PgReads:
        # min_size=0: the API starts (and answers 503) while the database is away.
        # reset: these statements leave no session state behind (no SET, LISTEN, lock,
        # cursor), so the default reset, a round trip per call, is skipped.
        self._pool = await asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._pool_size,
            command_timeout=30,
            reset=_nothing_to_reset,
        )
        return self

    async def close(self) -> None:
        """Close politely, or drop the connections when the server does not answer."""
        if self._pool is None:
            return
        try:
            await asyncio.wait_for(self._pool.close(), timeout=5)
        except TimeoutError:
            self._pool.terminate()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; the server out of reach surfaces as Unavailable."""
        try:
            async with self._pool.acquire() as con:
                yield con
        except _UNREACHABLE as exc:
            raise Unavailable() from exc

    async def _fetch(self, sql: str, *args: Any) -> bytes | None:
        """The statement's one value: the response body, built and encoded by the server."""
        async with self._connection() as con:
            value: bytes | None = await con.fetchval(sql, *args)
            return value

    async def seal(self, limit: int, wait: bool) -> int:
        """Chain up to `limit` pending audit entries in the server (schemas/audit.py)."""
        async with self._connection() as con:
            sealed: int = await con.fetchval("SELECT audit_seal($1, $2)", limit, wait)
            return sealed

    async def vacuum_pending(self) -> None:
        """Clear the to-do list's dead rows: autovacuum comes by once a minute at best, and
        meanwhile each round steps over the sealed entries' leftovers (measured after a
        200,000-entry backlog: 7-25 ms a 500-entry round without, 6 ms with)."""
        async with self._connection() as con:
            await con.execute("VACUUM audit_pending")

    async def record(self, code: str, who: Who) -> bytes | None:
        """The record's current body as stored, or None; audited when found."""
        return await self._fetch(
            _RECORD, code, who.actor, who.agency_code, who.dossier_code, who.purpose
        )

    async def citizen(
        self, personal_id: str, doc_type: str | None, day: dt.date, limit: int, who: Who
    ) -> bytes:
        """`{"records": [...]}` of the citizen's reusable records; always audited."""
        detail = f"doc_type={doc_type} valid_on={day.isoformat()} hits="
        args: list[Any] = [
            personal_id,
            day,
            limit,
            who.actor,
            who.agency_code,
            who.dossier_code,
            who.purpose,
            detail,
        ]
        if doc_type:
            args.append(doc_type)
        body = await self._fetch(_CITIZEN_TYPED if doc_type else _CITIZEN_ANY, *args)
        return body or b'{"records":[]}'
