"""Per-key rate limiting: a token bucket per API key, kept in this API process.

Each key may send its own `rate_limit_per_minute` requests a minute, else
`SOHOA_RATE_LIMIT_PER_MINUTE` (0 turns the limit off), and at once up to
`SOHOA_RATE_LIMIT_BURST_S` seconds' worth of it (the bucket's size). A refused call
gets 429 and `Retry-After`: the whole seconds until the next token.

The buckets live in memory, so each API process counts on its own: behind N
uvicorn workers or N containers a key gets up to N times its limit. That keeps the
check free of any round trip; a shared counter (Redis) would be the next step if a
hard global limit is ever needed.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float
    rate_per_s: float
    size: float


class RateLimiter:
    """Token buckets by key id; `take` says how long to wait when the bucket is empty."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    @staticmethod
    def bucket_size(per_minute: int, burst_s: float) -> float:
        """Requests that may come at once: `burst_s` seconds' worth of the limit, at least 1."""
        return max(1.0, per_minute * burst_s / 60.0)

    def take(
        self, key_id: int, per_minute: int, burst_s: float = 6.0, now: float | None = None
    ) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        if per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        rate = per_minute / 60.0
        size = self.bucket_size(per_minute, burst_s)
        with self._lock:
            b = self._buckets.get(key_id)
            if b is None or b.rate_per_s != rate or b.size != size:
                if len(self._buckets) >= self._max_keys:
                    self._buckets.clear()  # forget everyone rather than grow without bound
                tokens = size if b is None else min(b.tokens, size)
                b = self._buckets[key_id] = _Bucket(tokens, now, rate, size)
            b.tokens = min(b.size, b.tokens + (now - b.updated) * b.rate_per_s)
            b.updated = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / b.rate_per_s

    def give_back(self, key_id: int) -> None:
        """Return the token of a call that will be counted again by the code it goes on to."""
        with self._lock:
            b = self._buckets.get(key_id)
            if b is not None:
                b.tokens = min(b.size, b.tokens + 1.0)

    def reset(self, key_id: int | None = None) -> None:
        with self._lock:
            if key_id is None:
                self._buckets.clear()
            else:
                self._buckets.pop(key_id, None)


def retry_after(wait_s: float) -> str:
    """The `Retry-After` header: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_s)))
