"""Enqueueing jobs inside the caller's transaction, so that jobs commit or vanish with the rows
that cause them. PgQueuer runs its SQL on the very asyncpg connection our session holds.

Coalescing: a job's dedupe key is taken while it is queued *or running*. A push that arrives
while the job for its order is queued needs nothing (the job has not fetched yet, so it will see
the new status). One that arrives while the job runs may describe a change the job's fetch
missed, so it queues a single follow-up under a second key. Five pushes for a five-item order
therefore cause one fetch, and no status change is lost to coalescing.

``enqueue_coalesced_many`` applies the same rules to a batch in two round trips (look, then
insert), whatever its size; the webhook's group commit uses it. Anything it cannot settle in one
pass (another transaction queued the same key meanwhile) goes through ``enqueue_coalesced``.
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


def _candidate_keys(dedupe_key: str, follow_up: bool) -> list[str]:
    # A running job may already have fetched, so a push that arrives meanwhile needs a job that
    # has not started yet: the follow-up keys give it one even while earlier ones run.
    if not follow_up:
        return [dedupe_key]
    return [dedupe_key] + [dedupe_key + FOLLOW_UP_SUFFIX + s for s in ("", "-2", "-3")]


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


_LOCK_ACTIVE_JOBS = """
    SELECT job.dedupe_key, job.status FROM unnest($1::text[]) AS wanted(key)
    CROSS JOIN LATERAL (
        SELECT dedupe_key, status::text AS status FROM pgqueuer
        WHERE dedupe_key = wanted.key AND status IN ('queued', 'picked')
        LIMIT 1 FOR UPDATE
    ) AS job
"""


async def enqueue_coalesced_many(
    session: AsyncSession,
    entrypoint: str,
    jobs: Sequence[JobRequest],
    *,
    follow_up: bool = True,
) -> list[Enqueued]:
    """``enqueue_coalesced`` for many jobs at once; one answer per job, in order."""
    if not jobs:
        return []
    candidates = [_candidate_keys(job.dedupe_key, follow_up) for job in jobs]
    # Straight to asyncpg (app.db.driver_connection): this runs for every webhook batch.
    # One index probe per key (LATERAL ... LIMIT 1), whatever the queue's size or statistics; a
    # plain ``= ANY`` let the planner pick a scan of the whole queue. Keys are locked in sorted
    # order, so two batches touching the same jobs cannot deadlock. The lock on a queued job
    # keeps the worker from starting it before our rows are committed (see ``_active_status``).
    driver = await driver_connection(session)
    rows = await driver.fetch(
        _LOCK_ACTIVE_JOBS, sorted({key for keys in candidates for key in keys})
    )
    active = {row["dedupe_key"]: row["status"] for row in rows}
    answers: list[Enqueued | None] = [None] * len(jobs)
    chosen: list[tuple[int, str]] = []  # (job index, the key it goes in under)
    for index, keys in enumerate(candidates):
        if (not follow_up and keys[0] in active) or any(active.get(k) == "queued" for k in keys):
            answers[index] = Enqueued(None)  # an equivalent job has not started yet
            continue
        free = next((key for key in keys if key not in active), None)
        if free is None:
            log.warning("worker.enqueue.all_running", entrypoint=entrypoint, key=keys[0])
            answers[index] = Enqueued(None)  # rare; the sweeper re-queues the order
            continue
        active[free] = "queued"  # a repeated key later in this batch coalesces into this job
        chosen.append((index, free))
    if chosen:
        queries = await _queries(session)
        ids = await queries.enqueue(
            [entrypoint] * len(chosen),
            [orjson.dumps(jobs[index].payload) for index, _ in chosen],
            [0] * len(chosen),
            None,
            [key for _, key in chosen],
            [
                {"request_id": rid} if (rid := jobs[index].request_id) else None
                for index, _ in chosen
            ],
            on_conflict="skip",
        )
        for (index, key), job_id in zip(chosen, ids, strict=True):
            if job_id is None:
                # Another transaction queued this key after our look: settle it the slow way.
                answers[index] = await _enqueue_one(
                    session, entrypoint, jobs[index], delay=None, follow_up=follow_up
                )
            else:
                answers[index] = Enqueued(int(job_id), follow_up=key != jobs[index].dedupe_key)
    return [answer if answer is not None else Enqueued(None) for answer in answers]
