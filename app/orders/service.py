"""Orders as marketplaces report them: upsert from a fetch, never letting stale data win."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.exceptions import NotFound
from app.integrations.base import FetchedItem, FetchedOrder
from app.kit.locking import advisory_xact_lock
from app.kit.time import utc_now
from app.models import Order
from app.orders.repository import NewStatusChange, OrderRepository
from app.orders.statuses import FORWARD, KNOWN

log = structlog.get_logger(__name__)

_RANK: dict[str, int] = {status: rank for rank, status in enumerate(FORWARD)}


def _rank(status: str) -> int:
    return _RANK.get(status, len(FORWARD))


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
        and each item keeps whichever report is newest.

        What changed is worked out here; the repository writes it in a fixed number of
        statements (the order, new items, changed items, history), whatever the order's size.
        """
        await advisory_xact_lock(session, f"order:{account_id}:{fetched.external_order_id}")
        repository = OrderRepository.from_session(session)
        stored = await repository.sync_state(account_id, fetched.external_order_id)
        held = stored.items if stored is not None else {}
        statuses = {item_id: item.status for item_id, item in held.items()}
        new: list[FetchedItem] = []
        newer: list[tuple[int, FetchedItem]] = []
        changes: list[tuple[str, str | None, FetchedItem]] = []  # (item, from status, report)
        stale = 0
        for report in fetched.items:
            if report.status not in KNOWN:
                # Stored as reported, but GET /v1/orders cannot filter by it until it is added
                # to ``ItemStatus``.
                log.warning(
                    "order.item_status_unknown",
                    status=report.status,
                    order_id=fetched.external_order_id,
                )
            item = held.get(report.external_item_id)
            if item is None:
                new.append(report)
                changes.append((report.external_item_id, None, report))
            elif is_newer(
                report.status, report.status_updated_at, item.status, item.status_updated_at
            ):
                if report.status != item.status:
                    changes.append((report.external_item_id, item.status, report))
                newer.append((item.id, report))
            else:
                stale += 1
                continue
            statuses[report.external_item_id] = report.status
        item_statuses = sorted(set(statuses.values()))
        now = utc_now()
        if stored is None:
            order_id = await repository.insert_order(
                account_id, fetched, item_statuses, synced_at=now
            )
        else:
            order_id = stored.id
            fresher = is_newer("", fetched.updated_at, "", stored.marketplace_updated_at)
            await repository.update_order(
                order_id, item_statuses, synced_at=now, fetched=fetched if fresher else None
            )
        ids = {item_id: item.id for item_id, item in held.items()}
        ids.update(await repository.insert_items(order_id, new))
        await repository.update_items(newer)
        await repository.insert_status_changes(
            [
                NewStatusChange(
                    order_item_id=ids[item_id],
                    from_status=previous,
                    to_status=report.status,
                    observed_at=report.status_updated_at,
                    source=source,
                )
                for item_id, previous, report in changes
            ]
        )
        return ApplyResult(order_id, stored is None, len(changes), stale)

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
