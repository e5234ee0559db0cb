"""Names and payloads of the Lazada jobs, shared by whoever enqueues them and the worker."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.worker import Enqueued, enqueue_coalesced

# A push queues its account's sync (coalesced: one waiting per account), which syncs every
# order whose pushes are due. An order synced on request, with no push behind it (after a
# cancel), has a job of its own.
SYNC_ACCOUNT = "lazada.account.sync"
SYNC_ORDER = "lazada.order.sync"
REFRESH_TOKEN = "lazada.token.refresh"
RECONCILE = "lazada.reconcile"
BACKFILL = "lazada.backfill"


def account_sync_key(account_id: uuid.UUID) -> str:
    """The account sync's dedupe key; the intake's statement builds the same one
    (``JobCall``: entrypoint ``:`` account id)."""
    return f"{SYNC_ACCOUNT}:{account_id}"


async def enqueue_account_sync(
    session: AsyncSession, account_id: uuid.UUID, *, delay: timedelta | None = None
) -> Enqueued:
    """Queue the account's sync unless one is waiting; while one runs, a follow-up (the
    running one may have read the inbox before the pushes that call for this)."""
    return await enqueue_coalesced(
        session,
        SYNC_ACCOUNT,
        {"account_id": str(account_id)},
        account_sync_key(account_id),
        delay=delay,
    )


async def enqueue_order_sync(
    session: AsyncSession, account_id: uuid.UUID, order_id: str
) -> Enqueued:
    return await enqueue_coalesced(
        session, SYNC_ORDER, _sync_payload(account_id, order_id), _sync_key(account_id, order_id)
    )


def _sync_payload(account_id: uuid.UUID, order_id: str) -> dict[str, object]:
    return {"account_id": str(account_id), "order_id": order_id}


def _sync_key(account_id: uuid.UUID, order_id: str) -> str:
    return f"{SYNC_ORDER}:{account_id}:{order_id}"


async def enqueue_token_refresh(
    session: AsyncSession, account_id: uuid.UUID, *, only_if_due: bool = False
) -> Enqueued:
    """``only_if_due``: the periodic check's job, which refreshes only if the token still
    expires within ``ORDERSYNC_TOKEN_REFRESH_AHEAD`` when it runs (a push's job always does)."""
    payload: dict[str, object] = {"account_id": str(account_id)}
    if only_if_due:
        payload["only_if_due"] = True
    return await enqueue_coalesced(
        session,
        REFRESH_TOKEN,
        payload,
        dedupe_key=f"{REFRESH_TOKEN}:{account_id}",
        follow_up=not only_if_due,
    )


async def enqueue_reconcile(session: AsyncSession, account_id: uuid.UUID) -> Enqueued:
    return await enqueue_coalesced(
        session,
        RECONCILE,
        {"account_id": str(account_id)},
        dedupe_key=f"{RECONCILE}:{account_id}",
        follow_up=False,
    )


async def enqueue_backfill(session: AsyncSession, run_id: int) -> Enqueued:
    return await enqueue_coalesced(
        session, BACKFILL, {"run_id": run_id}, dedupe_key=f"{BACKFILL}:{run_id}", follow_up=False
    )
