"""Cancellation jobs: names and enqueueing, shared by the service and the worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.worker import Enqueued, enqueue_coalesced

RESUME = "cancellation.resume"
POLL = "cancellation.poll"


async def enqueue_resume(
    session: AsyncSession, cancellation_id: uuid.UUID, *, delay: timedelta | None = None
) -> Enqueued:
    return await enqueue_coalesced(
        session,
        RESUME,
        {"cancellation_id": str(cancellation_id)},
        dedupe_key=f"{RESUME}:{cancellation_id}",
        delay=delay,
    )


async def enqueue_poll(
    session: AsyncSession, cancellation_id: uuid.UUID, *, delay: timedelta
) -> Enqueued:
    return await enqueue_coalesced(
        session,
        POLL,
        {"cancellation_id": str(cancellation_id)},
        dedupe_key=f"{POLL}:{cancellation_id}",
        delay=delay,
    )
