"""Enqueueing jobs inside the caller's transaction, so that jobs commit or vanish with the rows
that cause them. PgQueuer runs its SQL on the very asyncpg connection our session holds.

Coalescing: a job's dedupe key is taken while it is queued *or running*. A push that arrives
while the job for its order is queued needs nothing (the job has not fetched yet, so it will see
the new status). One that arrives while the job runs may describe a change the job's fetch
missed, so it queues a single follow-up under a second key. Five pushes for a five-item order
therefore cause one fetch, and no status change is lost to coalescing.

``COALESCED_ENQUEUE_CTES`` applies the same rules to a batch inside one SQL statement, whatever
its size: the webhook's group commit appends it to its inbox insert, and
``enqueue_coalesced_many`` runs it on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import orjson
import structlog
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import driver_connection

log = structlog.get_logger(__name__)

FOLLOW_UP_SUFFIX = ":follow-up"


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: int | None  # None: an equivalent job was already waiting
    follow_up: bool = False


@dataclass(frozen=True, slots=True)
class JobRequest:
    payload: dict[str, object]
    dedupe_key: str
    request_id: str | None = None  # the request that causes the job, for the worker's logs


def current_request_id() -> str | None:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return str(request_id) if request_id else None


def candidate_suffixes(follow_up: bool = True) -> list[str]:
    """What a job's dedupe key may be extended with: the key itself first, then its follow-ups.

    A running job may already have fetched, so a push that arrives meanwhile needs a job that
    has not started yet: the follow-up keys give it one even while earlier ones run.
    """
    if not follow_up:
        return [""]
    return [""] + [FOLLOW_UP_SUFFIX + s for s in ("", "-2", "-3")]


def _candidate_keys(dedupe_key: str, follow_up: bool) -> list[str]:
    return [dedupe_key + suffix for suffix in candidate_suffixes(follow_up)]


async def _queries(session: AsyncSession) -> Queries:
    return Queries(AsyncpgDriver(await driver_connection(session)))


async def _active_status(session: AsyncSession, dedupe_key: str) -> str | None:
    """The waiting job's status, locked until our transaction ends.

    The lock matters when the job is still queued: a worker dequeues with SKIP LOCKED, so it
    cannot start that job before the row that caused this enqueue is committed, and the job's
    "events received before I started" therefore includes it.
    """
    result = await session.execute(
        text(
            "SELECT status::text FROM pgqueuer WHERE dedupe_key = :key "
            "AND status IN ('queued', 'picked') LIMIT 1 FOR UPDATE"
        ),
        {"key": dedupe_key},
    )
    return result.scalar_one_or_none()


async def runs_ahead(
    session: AsyncSession, dedupe_key: str, *, job_id: int, heartbeat_timeout: float
) -> bool:
    """Does another job under ``dedupe_key`` (or one of its follow-ups) run already, picked
    before this one (a lower id) and alive (its heartbeat fresh)? Lets jobs of one key take
    turns without holding anything: the later one steps back and comes again."""
    found = await session.scalar(
        text(
            "SELECT 1 FROM pgqueuer WHERE dedupe_key = ANY(:keys) AND status = 'picked' "
            "AND id < :job_id AND heartbeat > now() - make_interval(secs => :timeout) LIMIT 1"
        ),
        {
            "keys": _candidate_keys(dedupe_key, True),
            "job_id": job_id,
            "timeout": heartbeat_timeout,
        },
    )
    return found is not None


async def enqueue_coalesced(
    session: AsyncSession,
    entrypoint: str,
    payload: dict[str, object],
    dedupe_key: str,
    *,
    delay: timedelta | None = None,
    follow_up: bool = True,
) -> Enqueued:
    """Queue ``entrypoint`` unless an equivalent job is already waiting to start.

    ``follow_up=False`` is for periodic work (reconcile, token upkeep) whose running job already
    does what a new one would: nothing is queued while one is queued *or* running.
    """
    return await _enqueue_one(
        session,
        entrypoint,
        JobRequest(payload, dedupe_key, current_request_id()),
        delay=delay,
        follow_up=follow_up,
    )


async def _enqueue_one(
    session: AsyncSession,
    entrypoint: str,
    job: JobRequest,
    *,
    delay: timedelta | None,
    follow_up: bool,
) -> Enqueued:
    queries = await _queries(session)
    body = orjson.dumps(job.payload)
    # The request (or job) that causes this one: its id follows the work into the worker's logs.
    headers = {"request_id": job.request_id} if job.request_id else None
    dedupe_key = job.dedupe_key
    keys = _candidate_keys(dedupe_key, follow_up)
    for _ in range(3):
        for key in keys:
            (job_id,) = await queries.enqueue(
                entrypoint,
                body,
                execute_after=delay,
                dedupe_key=key,
                headers=headers,
                on_conflict="skip",
            )
            if job_id is not None:
                return Enqueued(int(job_id), follow_up=key != dedupe_key)
            status = await _active_status(session, key)
            if status == "queued" or not follow_up:
                return Enqueued(None)
            if status is None:
                break  # that job finished between our insert and our look: start over
        else:
            # Every key's job is running: rare; the sweeper re-queues this push's order.
            log.warning("worker.enqueue.all_running", entrypoint=entrypoint, key=dedupe_key)
            return Enqueued(None)
    raise RuntimeError(f"could not enqueue {entrypoint} under {dedupe_key}")


# The coalescing rules above for many jobs at once, as CTEs to append to a ``WITH`` that
# defines ``wanted(base_key, entrypoint, payload, request_id, delay)``, one row per base key
# (``delay``: seconds before the job may start). Being part of one statement, it needs no
# transaction of its own and costs no extra round trip: the webhook's intake puts it after its
# inbox insert (app.external_events.repository).
#
# ``active`` locks every job holding a candidate key until the statement's transaction ends:
# a worker dequeues with SKIP LOCKED, so a queued job cannot start before the rows that joined
# it are committed (see ``_active_status``). One index probe per key (LATERAL ... LIMIT 1),
# whatever the queue's size or statistics, in key order so that two batches cannot deadlock.
# A key that another transaction queues between our look and our insert is skipped by ON
# CONFLICT: that job is queued, so it coalesces this one as if we had seen it. Jobs are
# inserted in key order too (``chosen`` is sorted), for the same reason.
# PgQueuer's own enqueue logs every new job in ``pgqueuer_log``; ``logged`` does the same.
COALESCED_ENQUEUE_CTES = """
candidates AS (
    SELECT w.base_key, w.base_key || s.suffix AS key, s.n
    FROM wanted AS w, unnest({suffixes}::text[]) WITH ORDINALITY AS s(suffix, n)
),
active AS (
    SELECT c.base_key, c.key, job.status
    FROM (SELECT base_key, key FROM candidates ORDER BY key) AS c
    CROSS JOIN LATERAL (
        SELECT status::text AS status FROM pgqueuer
        WHERE dedupe_key = c.key AND status IN ('queued', 'picked')
        LIMIT 1 FOR UPDATE
    ) AS job
),
chosen AS (
    SELECT DISTINCT ON (c.base_key) c.base_key, c.key
    FROM candidates AS c
    WHERE NOT EXISTS (
            SELECT 1 FROM active AS a WHERE a.base_key = c.base_key AND a.status = 'queued'
        )
      AND NOT EXISTS (SELECT 1 FROM active AS a WHERE a.key = c.key)
    ORDER BY c.base_key, c.n
),
enqueued AS (
    INSERT INTO pgqueuer AS job
        (priority, entrypoint, payload, execute_after, dedupe_key, headers, status)
    SELECT 0, w.entrypoint, w.payload, now() + make_interval(secs => w.delay), ch.key,
           CASE WHEN w.request_id IS NOT NULL
                THEN jsonb_build_object('request_id', w.request_id) END,
           'queued'
    FROM chosen AS ch JOIN wanted AS w USING (base_key)
    ON CONFLICT (dedupe_key)
        WHERE ((status = ANY (ARRAY['queued'::pgqueuer_status, 'picked'::pgqueuer_status]))
               AND (dedupe_key IS NOT NULL))
        DO NOTHING
    RETURNING job.id, job.entrypoint, job.priority, job.dedupe_key
),
logged AS (
    INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
    SELECT id, 'queued', entrypoint, priority FROM enqueued
)
"""


_ENQUEUE_MANY = (
    """
    WITH wanted AS (
        SELECT DISTINCT ON (base_key) base_key, entrypoint, payload, request_id, delay
        FROM unnest($1::text[], $2::bytea[], $3::text[]) WITH ORDINALITY
            AS t(base_key, payload, request_id, ord)
        CROSS JOIN (SELECT $4::text AS entrypoint, $6::float8 AS delay) AS e
        ORDER BY base_key, ord
    ),
    """
    + COALESCED_ENQUEUE_CTES.format(suffixes="$5")
    + """
    SELECT ch.base_key, ch.key, q.id FROM chosen AS ch JOIN enqueued AS q ON q.dedupe_key = ch.key
    """
)


async def enqueue_coalesced_many(
    session: AsyncSession,
    entrypoint: str,
    jobs: Sequence[JobRequest],
    *,
    follow_up: bool = True,
    delay: float = 0.0,
) -> list[Enqueued]:
    """``enqueue_coalesced`` for many jobs at once, in one statement; one answer per job, in
    order (a repeated key gets its job once)."""
    if not jobs:
        return []
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _ENQUEUE_MANY,
        [job.dedupe_key for job in jobs],
        [orjson.dumps(job.payload) for job in jobs],
        [job.request_id for job in jobs],
        entrypoint,
        candidate_suffixes(follow_up),
        delay,
    )
    queued = {row["base_key"]: (int(row["id"]), row["key"]) for row in rows}
    answers: list[Enqueued] = []
    for job in jobs:
        got = queued.pop(job.dedupe_key, None)  # a repeat of the key finds it gone
        if got is None:
            answers.append(Enqueued(None))
        else:
            answers.append(Enqueued(got[0], follow_up=got[1] != job.dedupe_key))
    return answers
