"""Transaction-scoped advisory locks: serialise work on one key across all workers."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def advisory_xact_lock(session: AsyncSession, key: str) -> None:
    """Block until this transaction holds the lock for ``key``; it is released at commit."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
