from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import MarketplaceAccount


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AccountRepository:
        return cls(session)

    async def get(
        self, account_id: uuid.UUID, *, for_update: bool = False
    ) -> MarketplaceAccount | None:
        statement = select(MarketplaceAccount).where(MarketplaceAccount.id == account_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def find_by_seller(
        self, marketplace: str, seller_id: str, country: str | None
    ) -> MarketplaceAccount | None:
        statement = select(MarketplaceAccount).where(
            MarketplaceAccount.marketplace == marketplace,
            MarketplaceAccount.seller_id == seller_id,
        )
        if country is not None:
            statement = statement.where(MarketplaceAccount.country == country)
        return (await self.session.scalars(statement.limit(1))).first()

    async def list(self, *, needs_reauth: bool | None = None) -> Sequence[MarketplaceAccount]:
        statement = select(MarketplaceAccount).order_by(MarketplaceAccount.created_at)
        if needs_reauth is not None:
            statement = statement.where(MarketplaceAccount.needs_reauth == needs_reauth)
        return (await self.session.scalars(statement)).all()

    async def create(self, values: dict[str, object]) -> MarketplaceAccount | None:
        """Insert, or return None when the (marketplace, seller, country) is taken."""
        statement = (
            insert(MarketplaceAccount)
            .values(id=uuid.uuid4(), **values)
            .on_conflict_do_nothing()
            .returning(MarketplaceAccount)
        )
        return (await self.session.scalars(statement)).one_or_none()
