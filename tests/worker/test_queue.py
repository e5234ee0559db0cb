"""Coalescing: one waiting sync per order, and never a push left without a job that starts
after it arrived."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import to_libpq_url
from app.worker.queue import JobRequest, enqueue_coalesced, enqueue_coalesced_many

KEY = "test.sync:acct:42"


async def _enqueue(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int | None, bool]:
    async with sessionmaker() as session, session.begin():
        done = await enqueue_coalesced(session, "test.sync", {"n": 1}, dedupe_key=KEY)
    return done.job_id, done.follow_up


async def _pick_all(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE pgqueuer SET status = 'picked'"))


async def _keys(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            text("SELECT dedupe_key, status::text FROM pgqueuer ORDER BY id")
        )
        return [(row[0], row[1]) for row in rows]


async def test_waiting_job_absorbs_later_pushes(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await _enqueue(sessionmaker)
    second, _ = await _enqueue(sessionmaker)
    assert first is not None
    assert second is None
    assert await _keys(sessionmaker) == [(KEY, "queued")]


async def test_running_jobs_get_a_follow_up_each_time(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _enqueue(sessionmaker)
    await _pick_all(sessionmaker)
    job, follow_up = await _enqueue(sessionmaker)
    assert job is not None
    assert follow_up
    # The follow-up starts too; a push now still gets a job that has not started.
    await _pick_all(sessionmaker)
    job, follow_up = await _enqueue(sessionmaker)
    assert job is not None
    assert follow_up
    assert await _keys(sessionmaker) == [
        (KEY, "picked"),
        (KEY + ":follow-up", "picked"),
        (KEY + ":follow-up-2", "queued"),
    ]
    assert (await _enqueue(sessionmaker))[0] is None


async def _enqueue_many(
    sessionmaker: async_sessionmaker[AsyncSession], keys: list[str], *, follow_up: bool = True
) -> list[tuple[int | None, bool]]:
    async with sessionmaker() as session, session.begin():
        done = await enqueue_coalesced_many(
            session,
            "test.sync",
            [JobRequest({"key": key}, key, request_id=f"req-{i}") for i, key in enumerate(keys)],
            follow_up=follow_up,
        )
    return [(answer.job_id, answer.follow_up) for answer in done]


async def test_batch_follows_the_same_rules_as_one_at_a_time(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    other = "test.sync:acct:43"
    fresh = "test.sync:acct:44"
    await _enqueue(sessionmaker)  # KEY: will be running
    await _pick_all(sessionmaker)
    async with sessionmaker() as session, session.begin():
        await enqueue_coalesced(session, "test.sync", {"n": 2}, dedupe_key=other)  # queued
    answers = await _enqueue_many(sessionmaker, [KEY, other, fresh, fresh, KEY])
    # KEY runs: a follow-up; other waits: absorbed; fresh: a job, and its repeat absorbed; the
    # repeat of KEY is absorbed by the follow-up queued a moment earlier in the same batch.
    assert [(job is not None, follow_up) for job, follow_up in answers] == [
        (True, True),
        (False, False),
        (True, False),
        (False, False),
        (False, False),
    ]
    assert sorted(await _keys(sessionmaker)) == sorted(
        [
            (KEY, "picked"),
            (other, "queued"),
            (KEY + ":follow-up", "queued"),
            (fresh, "queued"),
        ]
    )
    async with sessionmaker() as session:
        carried = await session.scalar(
            text("SELECT headers->>'request_id' FROM pgqueuer WHERE dedupe_key = :k"),
            {"k": fresh},
        )
    assert carried == "req-2"


async def test_batch_without_follow_ups_skips_running_jobs(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _enqueue(sessionmaker)
    await _pick_all(sessionmaker)
    assert await _enqueue_many(sessionmaker, [KEY], follow_up=False) == [(None, False)]
    assert await _keys(sessionmaker) == [(KEY, "picked")]


async def test_batch_gives_up_only_when_every_key_runs(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    for _ in range(4):
        await _enqueue_many(sessionmaker, [KEY])
        await _pick_all(sessionmaker)
    assert len(await _keys(sessionmaker)) == 4
    # All four keys are running: nothing more can be queued (the sweeper covers this push).
    assert await _enqueue_many(sessionmaker, [KEY]) == [(None, False)]
    assert len(await _keys(sessionmaker)) == 4


class _Abort(Exception):
    pass


async def test_a_job_queued_first_thing_rolls_back_with_its_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """PgQueuer's insert goes straight to asyncpg; with no statement of SQLAlchemy's before it,
    it must still be inside the session's transaction, not committed on its own."""
    try:
        async with sessionmaker() as session, session.begin():
            done = await enqueue_coalesced(session, "test.sync", {"n": 1}, dedupe_key=KEY)
            assert done.job_id is not None
            raise _Abort
    except _Abort:
        pass
    assert await _keys(sessionmaker) == []


async def test_only_new_jobs_that_can_start_wake_the_workers(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The queue notifies on inserts of due jobs only: a worker's own dequeue, heartbeat and
    completion statements, and every intake batch of delayed syncs, would otherwise take the
    database-wide notify lock at every commit (and wake every worker for nothing)."""
    listener = await asyncpg.connect(to_libpq_url(database_url))
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("ch_pgqueuer", lambda *args: heard.put_nowait(args[-1]))
    try:
        await _enqueue(sessionmaker)
        inserted = orjson.loads(await asyncio.wait_for(heard.get(), timeout=5))
        assert inserted["operation"] == "insert"
        await _pick_all(sessionmaker)
        async with sessionmaker() as session, session.begin():
            await session.execute(text("DELETE FROM pgqueuer"))
            later = timedelta(seconds=30)
            await enqueue_coalesced(session, "test.sync", {"n": 2}, dedupe_key=KEY, delay=later)
        # A notification is delivered before the next query's answer, so a round trip on the
        # listening connection is enough to be sure nothing more is coming.
        await listener.fetchval("SELECT 1")
        assert heard.empty()
    finally:
        await listener.close()
