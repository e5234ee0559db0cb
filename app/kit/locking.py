"""Advisory locks: serialise work on one key across all workers and processes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


async def advisory_xact_lock(session: AsyncSession, key: str) -> None:
    """Block until this transaction holds the lock for ``key``; it is released at commit."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


@contextlib.asynccontextmanager
async def try_session_lock(engine: AsyncEngine, key: str) -> AsyncIterator[bool]:
    """Try to hold ``key`` for as long as the block runs, across any number of transactions.
    Yields whether it is held (False: someone holds it already; nothing waits).

    The lock lives on a connection of its own, kept out of the pool meanwhile and idle outside
    any transaction. Should that connection die (a database restart), the server has released
    the lock with it: the work under it must stay safe to run twice, as every sync is.
    """
    lock_id = func.hashtextextended(key, 0)
    async with engine.connect() as connection:
        held = bool(await connection.scalar(select(func.pg_try_advisory_lock(lock_id))))
        await connection.commit()
        try:
            yield held
        finally:
            if held:
                try:
                    await connection.execute(select(func.pg_advisory_unlock(lock_id)))
                    await connection.commit()
                except Exception:
                    # The connection is broken or gone; closing it releases the lock.
                    await connection.invalidate()
