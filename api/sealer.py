"""Chains the audit entries the hot reads write pending (schemas/audit.py), within a second.

An asyncio task in each API process on PostgreSQL. Each round is one call of the
server's `audit_seal` (migration 0008) on the reads' pool: it takes the chain's lock
only if it is free (another process sealing means there is nothing to do here),
seals a batch and commits. No Python work per entry, no thread contending for the
interpreter lock with the requests. A process that dies with entries pending leaves
them to the other processes' sealers, the next start, or `sohoa audit verify`,
which seals before it checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from api.reads import PgReads, Unavailable

log = logging.getLogger(__name__)

#: Seconds between rounds when the last round found nothing (or was not its turn). While
#: entries come in, rounds follow each other: many small statements keep the server's
#: work even, where one big batch now and then makes the requests behind it wait.
IDLE_S = 0.5
#: Seconds between VACUUMs of audit_pending (a queue table: rows come and go all day).
VACUUM_EVERY_S = 2.0
#: Entries per round at most: a short statement, so no request queues behind a long one.
BATCH = 500


class Sealer:
    def __init__(self, reads: PgReads, idle_s: float = IDLE_S) -> None:
        self._reads = reads
        self._idle_s = idle_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Sealer:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="audit-sealer")
        return self

    async def stop(self) -> None:
        """Stop, then seal what is left: entries of reads served before the shutdown."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Unavailable, TimeoutError):
            async with asyncio.timeout(10):
                while await self._reads.seal(BATCH, wait=True):
                    pass

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        vacuumed = loop.time()
        while True:
            try:
                if loop.time() - vacuumed > VACUUM_EVERY_S:
                    vacuumed = loop.time()
                    await self._reads.vacuum_pending()
                sealed = await self._reads.seal(BATCH, wait=False)
            except Unavailable:  # the entries wait in the database; nothing is lost
                log.warning("audit sealer: database unavailable")
                sealed = 0
            if sealed == 0:
                await asyncio.sleep(self._idle_s)
