from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from app.accounts.service import AccountNotFound
from app.accounts.service import account as account_service
from app.api_keys.schemas import Scope
from app.auth import require_scope
from app.db import SessionDep
from app.kit.pagination import (
    InvalidCursor,
    Page,
    cursor_id,
    cursor_moment,
    decode_cursor,
    encode_cursor,
)
from app.kit.time import Moment
from app.orders.schemas import Order, OrderIdPath, OrderSummary, order_detail, order_summary
from app.orders.service import OrderNotFound
from app.orders.service import order as order_service
from app.orders.statuses import ItemStatus

router = APIRouter(tags=["orders"])


@router.get(
    "/accounts/{account_id}/orders/{order_id}",
    response_model=Order,
    summary="Get one order with its items and their status history",
    dependencies=[require_scope(Scope.orders_read)],
    responses={404: OrderNotFound.schema()},
)
async def get_order(account_id: uuid.UUID, order_id: OrderIdPath, session: SessionDep) -> Order:
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
    item_status: ItemStatus | None = Query(
        default=None, description="Orders with at least one item in this status."
    ),
    updated_since: Moment | None = Query(
        default=None, description="Orders we changed at or after this moment (UTC without offset)."
    ),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=200),
) -> Page[OrderSummary]:
    if account_id is not None:
        await account_service.get(session, account_id)
    after = None
    if cursor:
        moment, order_id = decode_cursor(cursor, length=2)
        after = (cursor_moment(moment), cursor_id(order_id))
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
