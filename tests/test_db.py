"""Transaction helpers of ``app.db`` against a real Postgres."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import commit_without_flush_wait, create_engine, transaction


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


async def _backend_pid(engine: AsyncEngine) -> tuple[int, bool]:
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert isinstance(raw, asyncpg.Connection)
        return int(await raw.fetchval("SELECT pg_backend_pid()")), raw.is_in_transaction()


async def test_a_connection_left_in_a_stray_transaction_is_never_handed_out(
    database_url: str, clean_db: None
) -> None:
    """A timeout that cancels a statement just after its BEGIN reached the server leaves the
    connection in a transaction SQLAlchemy does not track. Handed out again, whatever the next
    user sends straight to asyncpg (the intake's single-statement batches) would run inside it
    and vanish: the pool must drop that connection instead."""
    engine = create_engine(database_url, process_name="stray-transaction-test", pool_size=1)
    try:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert isinstance(raw, asyncpg.Connection)
            await raw.execute("BEGIN")  # what the cancelled statement left behind
            stray = int(await raw.fetchval("SELECT pg_backend_pid()"))
        assert raw.is_in_transaction(), "returned to the pool still inside the transaction"

        pid, in_transaction = await _backend_pid(engine)
        assert pid != stray
        assert not in_transaction
        # and an autocommit statement on the next checkout commits: another session sees it
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert isinstance(raw, asyncpg.Connection)
            await raw.execute(
                "INSERT INTO api_keys (id, name, prefix, key_hash, scopes) "
                "VALUES (gen_random_uuid(), 'stray', 'osk_x', 'h', '{}')"
            )
        async with engine.connect() as other:
            count = await other.scalar(text("SELECT count(*) FROM api_keys WHERE name = 'stray'"))
        assert count == 1
    finally:
        await engine.dispose()
