"""Pacing calls under each marketplace's limits, shared by every process that makes them.

A token bucket per (marketplace, seller account), and optionally one per app (Lazada meters
apps too): ``rate`` calls a second on average, bursts of up to ``burst``. The buckets are rows
in Postgres (``rate_limit_buckets``), so any number of API and worker processes together stay
under each limit, and a marketplace's "slow down" (429, ``ApiCallLimit``, ``901``) seen by one
process holds the callers of every process until the marketplace's time is up.

How a call gets its token:

* **One statement, committed at once.** ``repository.take`` refills the buckets by the time
  elapsed on the database's clock and takes a token from each, on a pooled connection of its
  own outside any transaction: a sync or a cancel flow may be inside one, and the token must
  count for everyone now, not at its commit (or never, at its rollback).
* **Both or neither.** A call that needs the account's and the app's bucket takes from both in
  the same statement, or from none: an account's token is never burnt while the app's bucket
  says wait (and the other way round). Rows are locked in key order (the account's, then the
  app's), so two callers never deadlock; a statement that fails or is cancelled takes nothing;
  a process that dies between its token and its call has spent a token for nothing, which errs
  on the side of the limit. (Taking one bucket, then the other, would need a refund when the
  second says wait, and a crash in between would burn the first for nothing; in one statement
  there is no in between.) The app's row is locked by every call of every process for the
  length of one statement: a serialisation point of some thousands of calls a second, far
  above any app's limit.
* **Waiting is local.** When a bucket says wait, the answer says for how long; the caller sleeps
  that long in this process and asks once more (another process may have taken the token
  meanwhile, then it waits again). Within a process the callers of one account queue on a gate
  and only the first asks the database, so a hundred coroutines waiting on one seller cost one
  statement per token, not a hundred. With an app bucket, the callers waiting for *it* queue on
  a process-wide gate the same way; a caller waiting only for its own account lets the others
  through meanwhile.
* **Never longer than ``max_wait``.** A caller that would wait longer (a marketplace that said
  "come back in an hour", a queue of callers ahead of it) gets ``MustWait`` at once, which the
  marketplace clients turn into ``RateLimited`` with the wait as ``retry_after``.
* **A hold is for the account's bucket.** A throttling answer does not say whether the seller's
  or the app's quota ran out; holding every seller of the app for one seller's throttle would
  stop everyone for what is most likely one seller's burst, so only the account is held. An
  app-wide limit shows up as every seller's throttle, and each holds its own bucket.
* **No database, no call.** When the database is unavailable, ``acquire`` raises its error
  (``app.db.database_unavailable`` classifies it) and the callers wait for it as they do for any
  other statement: the alternative, calling unpaced, is what the limit is there to prevent.

Every process must be configured with the same limits (``ORDERSYNC_*_RATE`` / ``_BURST``):
each caller refills a bucket at its own process's rate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import NamedTuple, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import DEFAULT_RATE_LIMITS, Settings
from app.db import autocommit_driver
from app.integrations.ratelimit import repository
from app.integrations.ratelimit.repository import Bucket, BucketRow, Take

log = structlog.get_logger(__name__)

MAX_WAIT = 10.0

__all__ = [
    "LIMITS",
    "MAX_WAIT",
    "Bucket",
    "BucketRow",
    "Limit",
    "MustWait",
    "RateLimiter",
    "RateLimiters",
    "SharedBucket",
]


class MustWait(Exception):
    """The bucket would make the caller wait longer than it accepts to."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limit: next call allowed in {seconds:.1f}s")
        self.seconds = seconds


class Limit(NamedTuple):
    rate: float  # calls a second
    burst: float  # calls saved up while idle


# The per-account defaults (``app.config``), for the benchmarks' explanations.
LIMITS: Mapping[str, tuple[float, float]] = DEFAULT_RATE_LIMITS


class RateLimiter(Protocol):
    """What a marketplace client needs: a token before each call, a hold on "slow down"."""

    async def acquire(self, max_wait: float = MAX_WAIT) -> None: ...

    async def hold(self, seconds: float) -> None: ...


class SharedBucket:
    """One account's limiter: its own bucket, plus its app's when the app is metered."""

    def __init__(self, owner: RateLimiters, buckets: tuple[Bucket, ...]) -> None:
        self._owner = owner
        self.buckets = buckets  # the account's first

    @property
    def key(self) -> str:
        return self.buckets[0].key

    async def acquire(self, max_wait: float = MAX_WAIT) -> None:
        """Wait for a token (from every bucket at once); ``MustWait`` instead of waiting more
        than ``max_wait`` seconds."""
        await self._owner.acquire(self.buckets, max_wait)

    async def hold(self, seconds: float) -> None:
        """No call for this account, from any process, for ``seconds``."""
        await self._owner.hold(self.key, max(0.0, seconds))


class RateLimiters:
    """The process's limiter: bucket specs from the settings, the per-process gates, and the
    engine whose pool the statements run on."""

    def __init__(
        self,
        engine: AsyncEngine,
        account_limits: Mapping[str, tuple[float, float]] = DEFAULT_RATE_LIMITS,
        app_limits: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self._engine = engine
        self._account_limits = {name: Limit(*limit) for name, limit in account_limits.items()}
        self._app_limits = {name: Limit(*limit) for name, limit in (app_limits or {}).items()}
        self._gates: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, engine: AsyncEngine, settings: Settings) -> RateLimiters:
        return cls(engine, settings.account_rate_limits, settings.app_rate_limits)

    def bucket(self, marketplace: str, account: str) -> SharedBucket:
        rate, burst = self._account_limits[marketplace]
        buckets = [Bucket(f"{marketplace}:account:{account}", rate, burst)]
        app = self._app_limits.get(marketplace)
        if app is not None:
            buckets.append(Bucket(f"{marketplace}:app", app.rate, app.burst))
        return SharedBucket(self, tuple(buckets))

    async def acquire(self, buckets: tuple[Bucket, ...], max_wait: float = MAX_WAIT) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        account, app = buckets[0], (buckets[1] if len(buckets) > 1 else None)
        async with self._gate(account.key, deadline, max_wait):
            while True:
                async with self._gate(app.key if app else None, deadline, max_wait):
                    while True:
                        answer = await self._take(buckets)
                        if answer.taken:
                            return
                        wait = answer.wait
                        if loop.time() + wait > deadline:
                            raise MustWait(wait)
                        if app is None or answer.waits.get(app.key, 0.0) < wait:
                            break  # waiting for the account only: the app's gate is free
                        await asyncio.sleep(wait)  # the app's gate held: its callers queue
                await asyncio.sleep(wait)

    async def hold(self, key: str, seconds: float) -> None:
        async with autocommit_driver(self._engine) as connection:
            await repository.hold(connection, key, seconds)
        log.info("ratelimit.held", bucket=key, seconds=round(seconds, 3))

    async def read(self, keys: Sequence[str]) -> list[BucketRow]:
        async with autocommit_driver(self._engine) as connection:
            return await repository.read(connection, keys)

    async def _take(self, buckets: Sequence[Bucket]) -> Take:
        async with autocommit_driver(self._engine) as connection:
            answer = await repository.take(connection, buckets)
            if answer.missing:
                await repository.create(connection, buckets)
                answer = await repository.take(connection, buckets)
            return answer

    @contextlib.asynccontextmanager
    async def _gate(self, key: str | None, deadline: float, max_wait: float) -> AsyncIterator[None]:
        """This process's queue for ``key``'s bucket, given up (``MustWait``) at ``deadline``."""
        if key is None:
            yield
            return
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = asyncio.Lock()
        try:
            async with asyncio.timeout_at(deadline):
                await gate.acquire()
        except TimeoutError:
            raise MustWait(max_wait) from None
        try:
            yield
        finally:
            gate.release()
