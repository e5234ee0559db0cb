"""Transaction helpers of ``app.db`` against a real Postgres."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import commit_without_flush_wait, transaction


async def test_commit_without_flush_wait_lasts_one_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        async with session.begin():
            await commit_without_flush_wait(session)
            assert await session.scalar(text("SHOW synchronous_commit")) == "off"
        async with session.begin():  # the same connection, the next transaction
            assert await session.scalar(text("SHOW synchronous_commit")) == "on"
    async with transaction(sessionmaker) as session:
        assert await session.scalar(text("SHOW synchronous_commit")) == "on"
