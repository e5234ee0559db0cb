"""Enqueueing jobs inside the caller's transaction, so that jobs commit or vanish with the rows
that cause them. PgQueuer runs its SQL on the very asyncpg connection our session holds.

Coalescing: a job's dedupe key is taken while it is queued *or running*. A push that arrives
while the job for its order is queued needs nothing (the job has not fetched yet, so it will see
the new status). One that arrives while the job runs may describe a change the job's fetch
missed, so it queues a single follow-up under a second key. Five pushes for a five-item order
therefore cause one fetch, and no status change is lost to coalescing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import orjson
import structlog
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import Queries
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

FOLLOW_UP_SUFFIX = ":follow-up"


@dataclass(frozen=True, slots=True)
class Enqueued:
    job_id: int | None  # None: an equivalent job was already waiting
    follow_up: bool = False


async def _queries(session: AsyncSession) -> Queries:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver_connection = raw.driver_connection
    assert driver_connection is not None
    return Queries(AsyncpgDriver(driver_connection))


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
    queries = await _queries(session)
    body = orjson.dumps(payload)
    # The request (or job) that causes this one: its id follows the work into the worker's logs.
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    headers = {"request_id": str(request_id)} if request_id else None
    # A running job may already have fetched, so a push that arrives meanwhile needs a job that
    # has not started yet: the follow-up keys give it one even while earlier ones run.
    keys = [dedupe_key]
    if follow_up:
        keys += [dedupe_key + FOLLOW_UP_SUFFIX + suffix for suffix in ("", "-2", "-3")]
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
