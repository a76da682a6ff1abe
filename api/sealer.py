"""Chains the audit entries the hot reads write pending (schemas/audit.py), within a second.

One thread per API process. Each round takes the chain's lock only if it is free
(another process sealing means there is nothing to do here), seals a batch and
commits; it sleeps when nothing was pending. A process that dies with entries
pending leaves them to the other processes' sealers, the next start, or
`sohoa audit verify`, which seals before it checks.
"""

from __future__ import annotations

import logging
import threading

from schemas.audit import seal
from workers.services import Services

log = logging.getLogger(__name__)

#: Seconds between rounds when the last round found nothing (or was not its turn).
IDLE_S = 0.5


class Sealer:
    def __init__(self, services: Services, idle_s: float = IDLE_S) -> None:
        self._services = services
        self._idle_s = idle_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> Sealer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop, then seal what is left: entries of reads that were served before shutdown."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.round(wait=True)

    def round(self, wait: bool = False) -> int:
        """One batch; returns how many entries it sealed (0 on a database error)."""
        try:
            with self._services.sessions() as s:
                n = seal(s, wait=wait)
                s.commit()
            return n
        except Exception as exc:  # the database is away: the entries wait, nothing is lost
            log.warning("audit sealer: %s", type(exc).__name__)
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.round() == 0:
                self._stop.wait(self._idle_s)
