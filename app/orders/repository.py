"""SQL for orders, their items and item status history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.models import Order, OrderItem, OrderItemStatusChange


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
        with_items: bool = False,
        with_history: bool = False,
    ) -> Order | None:
        statement = select(Order).where(
            Order.account_id == account_id, Order.external_order_id == external_order_id
        )
        if with_history:
            statement = statement.options(selectinload(Order.items).selectinload(OrderItem.history))
        elif with_items:
            statement = statement.options(selectinload(Order.items))
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

    def add(self, obj: Order | OrderItem | OrderItemStatusChange) -> None:
        self.session.add(obj)

    async def flush(self) -> None:
        await self.session.flush()

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
