from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query

from app.accounts.service import AccountNotFound
from app.accounts.service import account as account_service
from app.api_keys.schemas import Scope
from app.auth import require_scope
from app.db import SessionDep
from app.kit.pagination import InvalidCursor, Page, decode_cursor, encode_cursor
from app.orders.schemas import Order, OrderSummary, order_detail, order_summary
from app.orders.service import OrderNotFound
from app.orders.service import order as order_service

router = APIRouter(tags=["orders"])


@router.get(
    "/accounts/{account_id}/orders/{order_id}",
    response_model=Order,
    summary="Get one order with its items and their status history",
    dependencies=[require_scope(Scope.orders_read)],
    responses={404: OrderNotFound.schema()},
)
async def get_order(account_id: uuid.UUID, order_id: str, session: SessionDep) -> Order:
    return order_detail(await order_service.get(session, account_id, order_id))


@router.get(
    "/orders",
    response_model=Page[OrderSummary],
    summary="List orders, oldest change first",
    dependencies=[require_scope(Scope.orders_read)],
    description="Cursor-paginated by our `updated_at`, so that a caller can poll for changes "
    "with `updated_since` and follow `next_cursor`.",
    responses={400: InvalidCursor.schema(), 404: AccountNotFound.schema()},
)
async def list_orders(
    session: SessionDep,
    account_id: uuid.UUID | None = Query(default=None),
    item_status: str | None = Query(
        default=None, max_length=64, description="Orders with at least one item in this status."
    ),
    updated_since: datetime | None = Query(default=None),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=200),
) -> Page[OrderSummary]:
    if account_id is not None:
        await account_service.get(session, account_id)
    after = None
    if cursor:
        values = decode_cursor(cursor)
        try:
            after = (datetime.fromisoformat(str(values[0])), int(values[1]))
        except (ValueError, IndexError):
            raise InvalidCursor("Pass back a next_cursor value unchanged.") from None
    orders = await order_service.list(
        session,
        account_id=account_id,
        item_status=item_status,
        updated_since=updated_since,
        after=after,
        limit=limit,
    )
    next_cursor = None
    if len(orders) == limit:
        last = orders[-1]
        next_cursor = encode_cursor([last.updated_at.isoformat(), last.id])
    return Page[OrderSummary](items=[order_summary(o) for o in orders], next_cursor=next_cursor)
