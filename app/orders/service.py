"""Orders as marketplaces report them: upsert from a fetch, never letting stale data win."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.exceptions import NotFound
from app.integrations.base import FetchedItem, FetchedOrder
from app.kit.locking import advisory_xact_lock
from app.kit.time import utc_now
from app.models import Order, OrderItem, OrderItemStatusChange
from app.orders.repository import OrderRepository

# Lazada's usual forward path (lazada.md §4). Used only to break ties between two reports with
# the same one-second timestamp: the later stage wins. Unknown statuses rank with the last.
_FORWARD = [
    "unpaid",
    "pending",
    "packed",
    "repacked",
    "ready_to_ship_pending",
    "ready_to_ship",
    "shipping",
    "shipped",
    "delivered",
    "confirmed",
]
_RANK = {status: rank for rank, status in enumerate(_FORWARD)}


def _rank(status: str) -> int:
    return _RANK.get(status, len(_FORWARD))


def is_newer(
    new_status: str,
    new_time: datetime | None,
    old_status: str,
    old_time: datetime | None,
) -> bool:
    """Whether a report (status at time) should replace what we hold."""
    if new_time is None or old_time is None:
        return True  # nothing to compare against: the fresh fetch is our best knowledge
    if new_time != old_time:
        return new_time > old_time
    return _rank(new_status) >= _rank(old_status)


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "No such order"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    order_id: int
    created: bool
    status_changes: int
    stale_items: int


_ORDER_FIELDS = (
    "order_number",
    "currency",
    "price",
    "voucher",
    "shipping_fee",
    "buyer_paid",
    "payment_method",
    "shipping_address",
    "shipping_state",
    "shipping_city",
    "shipping_post_code",
    "shipping_country",
    "placed_at",
    "raw_order",
    "raw_items",
)
_ITEM_FIELDS = (
    "sku",
    "shop_sku",
    "name",
    "item_price",
    "paid_price",
    "currency",
    "package_id",
    "tracking_code",
    "shipment_provider",
    "raw",
)


class OrderService:
    async def apply_fetched(
        self,
        session: AsyncSession,
        account_id: uuid.UUID,
        fetched: FetchedOrder,
        *,
        source: str,
    ) -> ApplyResult:
        """Store what a fetch returned. Concurrent syncs of one order take turns (advisory lock)
        and each item keeps whichever report is newest."""
        await advisory_xact_lock(session, f"order:{account_id}:{fetched.external_order_id}")
        repository = OrderRepository.from_session(session)
        order = await repository.get_by_external_id(
            account_id, fetched.external_order_id, with_items=True
        )
        now = utc_now()
        created = order is None
        if order is None:
            order = Order(
                account_id=account_id,
                external_order_id=fetched.external_order_id,
                item_statuses=[],
                last_synced_at=now,
                marketplace_updated_at=fetched.updated_at,
                items=[],
                **{name: getattr(fetched, name) for name in _ORDER_FIELDS},
            )
            repository.add(order)
        elif is_newer("", fetched.updated_at, "", order.marketplace_updated_at):
            for name in _ORDER_FIELDS:
                setattr(order, name, getattr(fetched, name))
            order.marketplace_updated_at = fetched.updated_at
        order.last_synced_at = now

        existing = {item.external_item_id: item for item in order.items}
        changes = stale = 0
        for report in fetched.items:
            item = existing.get(report.external_item_id)
            if item is None:
                item = self._new_item(report)
                order.items.append(item)
                repository.add(self._change(item, None, report, source))
                changes += 1
            elif is_newer(
                report.status, report.status_updated_at, item.status, item.status_updated_at
            ):
                if report.status != item.status:
                    repository.add(self._change(item, item.status, report, source))
                    changes += 1
                item.status = report.status
                item.status_updated_at = report.status_updated_at
                for name in _ITEM_FIELDS:
                    setattr(item, name, getattr(report, name))
            else:
                stale += 1
        order.item_statuses = sorted({item.status for item in order.items})
        await repository.flush()
        return ApplyResult(order.id, created, changes, stale)

    @staticmethod
    def _new_item(report: FetchedItem) -> OrderItem:
        return OrderItem(
            external_item_id=report.external_item_id,
            status=report.status,
            status_updated_at=report.status_updated_at,
            **{name: getattr(report, name) for name in _ITEM_FIELDS},
        )

    @staticmethod
    def _change(
        item: OrderItem, previous: str | None, report: FetchedItem, source: str
    ) -> OrderItemStatusChange:
        return OrderItemStatusChange(
            item=item,
            from_status=previous,
            to_status=report.status,
            observed_at=report.status_updated_at,
            source=source,
        )

    async def get(
        self, session: AsyncSession, account_id: uuid.UUID, external_order_id: str
    ) -> Order:
        order = await OrderRepository.from_session(session).get_by_external_id(
            account_id, external_order_id, with_history=True
        )
        if order is None:
            raise OrderNotFound(f"Order {external_order_id} is not stored for this account.")
        return order

    async def list(
        self,
        session: AsyncSession,
        *,
        account_id: uuid.UUID | None,
        item_status: str | None,
        updated_since: datetime | None,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> Sequence[Order]:
        return await OrderRepository.from_session(session).list(
            account_id=account_id,
            item_status=item_status,
            updated_since=updated_since,
            after=after,
            limit=limit,
        )


order = OrderService()
