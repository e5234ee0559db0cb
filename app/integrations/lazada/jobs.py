"""Names and payloads of the Lazada jobs, shared by whoever enqueues them and the worker."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.worker import Enqueued, enqueue_coalesced

SYNC_ORDER = "lazada.order.sync"
REFRESH_TOKEN = "lazada.token.refresh"


async def enqueue_order_sync(
    session: AsyncSession, account_id: uuid.UUID, order_id: str
) -> Enqueued:
    return await enqueue_coalesced(
        session,
        SYNC_ORDER,
        {"account_id": str(account_id), "order_id": order_id},
        dedupe_key=f"{SYNC_ORDER}:{account_id}:{order_id}",
    )


async def enqueue_token_refresh(session: AsyncSession, account_id: uuid.UUID) -> Enqueued:
    return await enqueue_coalesced(
        session,
        REFRESH_TOKEN,
        {"account_id": str(account_id)},
        dedupe_key=f"{REFRESH_TOKEN}:{account_id}",
    )
