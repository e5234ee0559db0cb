"""Coalescing: one waiting sync per order, and never a push left without a job that starts
after it arrived."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.worker.queue import enqueue_coalesced

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
