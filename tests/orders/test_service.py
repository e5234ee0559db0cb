"""Storing fetched orders: stale reports never overwrite newer ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from app.integrations.base import FetchedItem, FetchedOrder
from app.models import MarketplaceAccount, Order, OrderItem
from app.orders.service import is_newer
from app.orders.service import order as order_service

T0 = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


def _fetched(statuses: dict[str, tuple[str, datetime]], updated: datetime) -> FetchedOrder:
    return FetchedOrder(
        external_order_id="5001",
        order_number="5001",
        updated_at=updated,
        price=Decimal("20"),
        items=[
            FetchedItem(external_item_id=item_id, status=status, status_updated_at=when)
            for item_id, (status, when) in statuses.items()
        ],
    )


async def _account(sessionmaker: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    async with sessionmaker() as session, session.begin():
        account = MarketplaceAccount(
            marketplace="lazada",
            seller_id="1",
            country="sg",
            access_token="a",
            refresh_token="r",
            needs_reauth=False,
        )
        session.add(account)
    return account.id


async def _apply(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: uuid.UUID, fetched: FetchedOrder
) -> None:
    async with sessionmaker() as session, session.begin():
        await order_service.apply_fetched(session, account_id, fetched, source="test")


async def _items(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, list[str]]:
    async with sessionmaker() as session:
        items = (
            await session.scalars(select(OrderItem).options(selectinload(OrderItem.history)))
        ).all()
        return {i.external_item_id: [i.status] + [h.to_status for h in i.history] for i in items}


class TestApplyFetched:
    async def test_stale_item_report_is_ignored(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        account_id = await _account(sessionmaker)
        later = T0 + timedelta(seconds=5)
        await _apply(sessionmaker, account_id, _fetched({"1": ("packed", later)}, later))
        await _apply(sessionmaker, account_id, _fetched({"1": ("pending", T0)}, T0))
        assert await _items(sessionmaker) == {"1": ["packed", "packed"]}

    async def test_newer_report_wins_and_is_recorded(
        self, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        account_id = await _account(sessionmaker)
        await _apply(
            sessionmaker, account_id, _fetched({"1": ("pending", T0), "2": ("pending", T0)}, T0)
        )
        later = T0 + timedelta(seconds=1)
        await _apply(
            sessionmaker,
            account_id,
            _fetched({"1": ("canceled", later), "2": ("pending", T0)}, later),
        )
        assert await _items(sessionmaker) == {
            "1": ["canceled", "pending", "canceled"],
            "2": ["pending", "pending"],
        }
        async with sessionmaker() as session:
            order = (await session.scalars(select(Order))).one()
            assert order.item_statuses == ["canceled", "pending"]

    async def test_same_second_reports_follow_the_forward_path(self) -> None:
        assert is_newer("packed", T0, "pending", T0)
        assert not is_newer("pending", T0, "packed", T0)
        assert is_newer("pending", T0 + timedelta(seconds=1), "packed", T0)
        assert is_newer("canceled", T0, "ready_to_ship", T0)
