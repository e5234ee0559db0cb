"""SQL for orders, their items and item status history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.db import driver_connection
from app.integrations.base import FetchedItem, FetchedOrder
from app.models import Order, OrderItem


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    status: str
    status_updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """What a sync compares a fetch with."""

    id: int
    marketplace_updated_at: datetime | None
    items: dict[str, StoredItem]  # by the marketplace's item id


@dataclass(frozen=True, slots=True)
class NewStatusChange:
    order_item_id: int
    from_status: str | None
    to_status: str
    observed_at: datetime | None
    source: str


# --- storing a fetch -------------------------------------------------------------------------
# A worker stores every fetched order, so these go straight to asyncpg
# (``app.db.driver_connection``): through the ORM's unit of work the same writes cost about
# four times the CPU, and a sale day is hundreds of syncs a second.

_SYNC_STATE = """
    SELECT o.id, o.marketplace_updated_at,
           i.id AS item_id, i.external_item_id, i.status, i.status_updated_at
    FROM orders AS o LEFT JOIN order_items AS i ON i.order_id = o.id
    WHERE o.account_id = $1 AND o.external_order_id = $2
"""

_INSERT_ORDER = """
    INSERT INTO orders (
        account_id, external_order_id, item_statuses, last_synced_at, marketplace_updated_at,
        order_number, currency, price, voucher, shipping_fee, buyer_paid, payment_method,
        shipping_address, shipping_state, shipping_city, shipping_post_code, shipping_country,
        placed_at, raw_order, raw_items
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            CAST($19 AS jsonb), CAST($20 AS jsonb))
    RETURNING id
"""

_UPDATE_ORDER = """
    UPDATE orders SET
        item_statuses = $2, last_synced_at = $3, updated_at = now(), marketplace_updated_at = $4,
        order_number = $5, currency = $6, price = $7, voucher = $8, shipping_fee = $9,
        buyer_paid = $10, payment_method = $11, shipping_address = $12, shipping_state = $13,
        shipping_city = $14, shipping_post_code = $15, shipping_country = $16, placed_at = $17,
        raw_order = CAST($18 AS jsonb), raw_items = CAST($19 AS jsonb)
    WHERE id = $1
"""

_TOUCH_ORDER = """
    UPDATE orders SET item_statuses = $2, last_synced_at = $3, updated_at = now() WHERE id = $1
"""

_INSERT_ITEMS = """
    INSERT INTO order_items (
        order_id, external_item_id, status, status_updated_at, sku, shop_sku, name, item_price,
        paid_price, currency, package_id, tracking_code, shipment_provider, raw
    )
    SELECT $1, t.external_item_id, t.status, t.status_updated_at, t.sku, t.shop_sku, t.name,
           t.item_price, t.paid_price, t.currency, t.package_id, t.tracking_code,
           t.shipment_provider, CAST(t.raw AS jsonb)
    FROM unnest(
        $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
        $8::numeric[], $9::numeric[], $10::text[], $11::text[], $12::text[], $13::text[],
        $14::text[]
    ) WITH ORDINALITY AS t(
        external_item_id, status, status_updated_at, sku, shop_sku, name, item_price,
        paid_price, currency, package_id, tracking_code, shipment_provider, raw, ord
    )
    ORDER BY t.ord
    RETURNING id, external_item_id
"""

_UPDATE_ITEM = """
    UPDATE order_items SET
        status = $2, status_updated_at = $3, sku = $4, shop_sku = $5, name = $6, item_price = $7,
        paid_price = $8, currency = $9, package_id = $10, tracking_code = $11,
        shipment_provider = $12, raw = CAST($13 AS jsonb), updated_at = now()
    WHERE id = $1
"""

_INSERT_STATUS_CHANGES = """
    INSERT INTO order_item_status_changes (
        order_item_id, from_status, to_status, observed_at, source
    )
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
"""


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _order_values(fetched: FetchedOrder) -> tuple[object, ...]:
    return (
        fetched.order_number,
        fetched.currency,
        fetched.price,
        fetched.voucher,
        fetched.shipping_fee,
        fetched.buyer_paid,
        fetched.payment_method,
        fetched.shipping_address,
        fetched.shipping_state,
        fetched.shipping_city,
        fetched.shipping_post_code,
        fetched.shipping_country,
        fetched.placed_at,
        _json(fetched.raw_order),
        _json(fetched.raw_items),
    )


def _item_values(report: FetchedItem) -> tuple[object, ...]:
    return (
        report.status,
        report.status_updated_at,
        report.sku,
        report.shop_sku,
        report.name,
        report.item_price,
        report.paid_price,
        report.currency,
        report.package_id,
        report.tracking_code,
        report.shipment_provider,
        _json(report.raw),
    )


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> OrderRepository:
        return cls(session)

    async def get_by_external_id(
        self,
        account_id: uuid.UUID,
        external_order_id: str,
        *,
        with_history: bool = False,
    ) -> Order | None:
        statement = select(Order).where(
            Order.account_id == account_id, Order.external_order_id == external_order_id
        )
        if with_history:
            statement = statement.options(selectinload(Order.items).selectinload(OrderItem.history))
        return (await self.session.scalars(statement)).one_or_none()

    async def sync_marks(
        self, account_id: uuid.UUID, external_order_ids: Sequence[str]
    ) -> dict[str, tuple[datetime | None, list[str]]]:
        """For each stored order of these: the marketplace's ``updated_at`` we hold, and its
        item statuses (a pull skips orders it would not change)."""
        if not external_order_ids:
            return {}
        rows = await self.session.execute(
            select(
                Order.external_order_id, Order.marketplace_updated_at, Order.item_statuses
            ).where(
                Order.account_id == account_id,
                Order.external_order_id.in_(list(external_order_ids)),
            )
        )
        return {order_id: (updated, list(statuses)) for order_id, updated, statuses in rows}

    async def sync_state(self, account_id: uuid.UUID, external_order_id: str) -> StoredOrder | None:
        driver = await driver_connection(self.session)
        rows = await driver.fetch(_SYNC_STATE, account_id, external_order_id)
        if not rows:
            return None
        items = {
            row["external_item_id"]: StoredItem(
                row["item_id"], row["status"], row["status_updated_at"]
            )
            for row in rows
            if row["item_id"] is not None
        }
        return StoredOrder(rows[0]["id"], rows[0]["marketplace_updated_at"], items)

    async def insert_order(
        self,
        account_id: uuid.UUID,
        fetched: FetchedOrder,
        item_statuses: list[str],
        *,
        synced_at: datetime,
    ) -> int:
        driver = await driver_connection(self.session)
        order_id = await driver.fetchval(
            _INSERT_ORDER,
            account_id,
            fetched.external_order_id,
            item_statuses,
            synced_at,
            fetched.updated_at,
            *_order_values(fetched),
        )
        return int(order_id)

    async def update_order(
        self,
        order_id: int,
        item_statuses: list[str],
        *,
        synced_at: datetime,
        fetched: FetchedOrder | None,
    ) -> None:
        """Record the sync; with ``fetched``, also replace the order's fields with its."""
        driver = await driver_connection(self.session)
        if fetched is None:
            await driver.execute(_TOUCH_ORDER, order_id, item_statuses, synced_at)
        else:
            await driver.execute(
                _UPDATE_ORDER,
                order_id,
                item_statuses,
                synced_at,
                fetched.updated_at,
                *_order_values(fetched),
            )

    async def insert_items(self, order_id: int, reports: Sequence[FetchedItem]) -> dict[str, int]:
        """The new items' ids, by the marketplace's item id."""
        if not reports:
            return {}
        rows_in = [(report.external_item_id, *_item_values(report)) for report in reports]
        columns = zip(*rows_in, strict=True)
        driver = await driver_connection(self.session)
        rows = await driver.fetch(_INSERT_ITEMS, order_id, *(list(column) for column in columns))
        return {row["external_item_id"]: row["id"] for row in rows}

    async def update_items(self, updates: Sequence[tuple[int, FetchedItem]]) -> None:
        if not updates:
            return
        driver = await driver_connection(self.session)
        await driver.executemany(
            _UPDATE_ITEM, [(item_id, *_item_values(report)) for item_id, report in updates]
        )

    async def insert_status_changes(self, changes: Sequence[NewStatusChange]) -> None:
        if not changes:
            return
        driver = await driver_connection(self.session)
        await driver.execute(
            _INSERT_STATUS_CHANGES,
            [change.order_item_id for change in changes],
            [change.from_status for change in changes],
            [change.to_status for change in changes],
            [change.observed_at for change in changes],
            [change.source for change in changes],
        )

    def _list_statement(
        self,
        *,
        account_id: uuid.UUID | None,
        item_status: str | None,
        updated_since: datetime | None,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> Select[Order]:
        statement = (
            select(Order)
            .options(selectinload(Order.items))
            .order_by(Order.updated_at, Order.id)
            .limit(limit)
        )
        if account_id is not None:
            statement = statement.where(Order.account_id == account_id)
        if item_status is not None:
            statement = statement.where(Order.item_statuses.contains([item_status]))
        if updated_since is not None:
            statement = statement.where(Order.updated_at >= updated_since)
        if after is not None:
            updated_at, order_id = after
            statement = statement.where(
                or_(
                    Order.updated_at > updated_at,
                    and_(Order.updated_at == updated_at, Order.id > order_id),
                )
            )
        return statement

    async def list(
        self,
        *,
        account_id: uuid.UUID | None,
        item_status: str | None,
        updated_since: datetime | None,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> Sequence[Order]:
        statement = self._list_statement(
            account_id=account_id,
            item_status=item_status,
            updated_since=updated_since,
            after=after,
            limit=limit,
        )
        return (await self.session.scalars(statement)).all()
