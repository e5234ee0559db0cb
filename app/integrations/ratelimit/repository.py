"""SQL for the shared rate-limit buckets (``rate_limit_buckets``).

Every statement here runs on its own, outside any transaction (``autocommit_driver``): a token
is taken, or a hold set, and committed at once, whatever transaction the caller is in. All
times come from the database's clock, the one clock every process shares.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

# Take one token from every bucket listed, or from none of them.
#
# Each bucket refills by the time elapsed since ``refilled_at`` at its rate, up to its burst
# (the caller's settings, given with its key). A bucket can give a token when it has one and is
# not held; then every bucket gives one, else none does and the answer says how long each would
# make the caller wait. Buckets that do not exist yet are left out of the answer (``found`` is
# then short of the count): the caller creates them and asks again.
#
# ``FOR UPDATE`` in key order: two callers of the same buckets queue on the first one, and a
# caller of an account's bucket and the app's never deadlocks with another. ``clock_timestamp()``
# is read per row once its lock is held (``now()`` would be the statement's start, before a
# wait for the lock), so ``refilled_at`` never goes backwards. A bucket is written only when the
# token is taken: a refill computed and not written is computed again, to the same effect, next
# time.
#
# One text per number of buckets (1, or 2 with the app's), with one parameter per value rather
# than arrays: the plan then knows how many rows it reads, so Postgres settles on one generic
# plan on the primary key. With arrays it kept planning every execution afresh once the table
# had thousands of rows (the generic plan's guess of ten keys made it look dearer), which cost
# more than the statement itself: 0.45 ms a take at 10,000 buckets instead of 0.28.
_TAKE = """
WITH wanted (key, rate, burst) AS (
    VALUES {wanted}
),
locked AS (
    SELECT b.key, b.tokens, b.refilled_at, b.held_until, w.rate, w.burst
    FROM rate_limit_buckets AS b JOIN wanted AS w USING (key)
    WHERE b.key IN ({keys})
    ORDER BY b.key
    FOR UPDATE OF b
),
clocked AS (
    SELECT locked.*, clock_timestamp() AS now FROM locked
),
refilled AS (
    SELECT key, rate, now, held_until,
           LEAST(burst, tokens + GREATEST(0, extract(epoch FROM now - refilled_at)) * rate)
               AS tokens,
           GREATEST(refilled_at, now) AS refilled_at,
           -- After a hold, refilling starts when the hold ends.
           GREATEST(0, extract(epoch FROM refilled_at - now)) AS not_yet
    FROM clocked
),
answer AS (
    SELECT key, tokens, refilled_at,
           GREATEST(
               extract(epoch FROM COALESCE(held_until, now) - now),
               not_yet + GREATEST(0, 1 - tokens) / rate,
               0
           )::float8 AS wait
    FROM refilled
),
decision AS (
    SELECT count(*) AS found, COALESCE(bool_and(wait = 0), false) AS ok FROM answer
),
taken AS (
    UPDATE rate_limit_buckets AS b
    SET tokens = a.tokens - 1, refilled_at = a.refilled_at
    FROM answer AS a, decision AS d
    WHERE b.key IN ({keys}) AND b.key = a.key AND d.ok AND d.found = {count}
    RETURNING b.key
)
SELECT d.found::int AS found, (SELECT count(*) FROM taken)::int AS taken,
       COALESCE((SELECT array_agg(a.wait ORDER BY a.key) FROM answer AS a), '{{}}') AS waits,
       COALESCE((SELECT array_agg(a.key ORDER BY a.key) FROM answer AS a), '{{}}') AS keys
FROM decision AS d
"""


@functools.cache
def _take_sql(count: int) -> str:
    """``_TAKE`` for ``count`` buckets: parameters key, rate, burst for each, in order."""
    wanted = ", ".join(
        f"(${3 * i + 1}::text, ${3 * i + 2}::float8, ${3 * i + 3}::float8)" for i in range(count)
    )
    keys = ", ".join(f"${3 * i + 1}::text" for i in range(count))
    return _TAKE.format(wanted=wanted, keys=keys, count=count)


# Buckets on first use start full. In key order, like _TAKE, so that two processes creating
# the same two buckets at once wait for each other rather than deadlock.
_CREATE = """
INSERT INTO rate_limit_buckets (key, tokens, refilled_at)
SELECT key, burst, clock_timestamp()
FROM unnest($1::text[], $2::float8[]) AS w(key, burst)
ORDER BY key
ON CONFLICT (key) DO NOTHING
"""

# No call through the bucket for ``$2`` seconds, whoever makes it; then one call at once, and
# refilling from there (no burst into a marketplace that has just said "slow down"). A shorter
# hold never shortens a longer one.
_HOLD = """
INSERT INTO rate_limit_buckets AS b (key, tokens, refilled_at, held_until)
SELECT $1, 1, until, until
FROM (SELECT clock_timestamp() + make_interval(secs => $2) AS until) AS t
ON CONFLICT (key) DO UPDATE SET
    held_until = GREATEST(b.held_until, EXCLUDED.held_until),
    refilled_at = GREATEST(b.refilled_at, EXCLUDED.held_until),
    tokens = 1
"""

_READ = """
SELECT key, tokens, extract(epoch FROM refilled_at)::float8 AS refilled_at,
       extract(epoch FROM held_until)::float8 AS held_until
FROM rate_limit_buckets WHERE key = ANY($1::text[]) ORDER BY key
"""


@dataclass(frozen=True, slots=True)
class Bucket:
    """Which bucket, at what pace: ``rate`` tokens a second, up to ``burst`` saved."""

    key: str
    rate: float
    burst: float


@dataclass(frozen=True, slots=True)
class Take:
    """What ``take`` did: ``taken`` a token from every bucket, or not; then ``waits`` says, per
    bucket key, how long that bucket would make the caller wait (0 for one that would not).
    ``missing``: some bucket has no row yet (nothing was taken)."""

    taken: bool
    missing: bool
    waits: dict[str, float]

    @property
    def wait(self) -> float:
        return max(self.waits.values(), default=0.0)


@dataclass(frozen=True, slots=True)
class BucketRow:
    key: str
    tokens: float
    refilled_at: float  # epoch seconds, database clock
    held_until: float | None


async def take(connection: asyncpg.Connection, buckets: Sequence[Bucket]) -> Take:
    """One token from each of ``buckets``, or none: one statement, committed on return."""
    values = [value for b in buckets for value in (b.key, b.rate, b.burst)]
    row = await connection.fetchrow(_take_sql(len(buckets)), *values)
    assert row is not None
    waits = dict(zip(row["keys"], row["waits"], strict=True))
    return Take(taken=row["taken"] > 0, missing=row["found"] < len(buckets), waits=waits)


async def create(connection: asyncpg.Connection, buckets: Sequence[Bucket]) -> None:
    """The rows of ``buckets`` that do not exist yet, full."""
    await connection.execute(
        _CREATE, [bucket.key for bucket in buckets], [bucket.burst for bucket in buckets]
    )


async def hold(connection: asyncpg.Connection, key: str, seconds: float) -> None:
    """No token from ``key``'s bucket for ``seconds``, counted on the database's clock."""
    await connection.execute(_HOLD, key, seconds)


async def read(connection: asyncpg.Connection, keys: Sequence[str]) -> list[BucketRow]:
    """The buckets' rows as stored (for tests, benchmarks and operators)."""
    rows = await connection.fetch(_READ, list(keys))
    return [
        BucketRow(
            key=r["key"],
            tokens=r["tokens"],
            refilled_at=r["refilled_at"],
            held_until=r["held_until"],
        )
        for r in rows
    ]
