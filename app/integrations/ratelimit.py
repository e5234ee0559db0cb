"""Pacing calls under each marketplace's documented limit, per seller account.

A token bucket per (marketplace, account): ``rate`` calls a second on average with bursts up to
``burst``. When a marketplace says "slow down" (429, Retry-After, a reset time), ``hold`` stops
every caller of that bucket until then. The buckets are per process; several workers share a
marketplace's limit between them, so each runs under it with room to spare.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


class MustWait(Exception):
    """The bucket would make the caller wait longer than it accepts to."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limit: next call allowed in {seconds:.1f}s")
        self.seconds = seconds


@dataclass
class TokenBucket:
    rate: float
    burst: float
    _tokens: float = field(init=False)
    _updated: float = field(init=False, default_factory=time.monotonic)
    _not_before: float = field(init=False, default=0.0)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._tokens = self.burst

    async def acquire(self, max_wait: float = 10.0) -> None:
        """Wait for a token; raise ``MustWait`` instead when the wait would exceed ``max_wait``
        (a marketplace that said "come back in an hour" should not hold a request that long)."""
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._not_before:
                    if self._not_before - now > max_wait:
                        raise MustWait(self._not_before - now)
                    await asyncio.sleep(self._not_before - now)
                    continue
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def hold(self, seconds: float) -> None:
        """No call through this bucket for ``seconds`` (the marketplace asked us to wait)."""
        self._not_before = max(self._not_before, time.monotonic() + seconds)
        self._tokens = 0


# Documented limits (shoplazza_newegg.md A5, B4). Lazada publishes no per-second figure for its
# order APIs (lazada.md §5); 10 a second per seller keeps a mega-sale backlog moving, and its
# throttling answers (ApiCallLimit, 901) hold the bucket when we are too fast.
LIMITS: dict[str, tuple[float, float]] = {
    "lazada": (10.0, 20.0),
    "shoplazza": (2.0, 1.0),
    # Cancel Order allows 1000 calls an hour per seller: 0.27 a second with a small burst.
    "newegg": (1000 / 3600, 10.0),
}


class RateLimiters:
    def __init__(self, limits: dict[str, tuple[float, float]] | None = None) -> None:
        self._limits = limits or LIMITS
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def bucket(self, marketplace: str, account: str) -> TokenBucket:
        key = (marketplace, account)
        if key not in self._buckets:
            rate, burst = self._limits[marketplace]
            self._buckets[key] = TokenBucket(rate=rate, burst=burst)
        return self._buckets[key]
