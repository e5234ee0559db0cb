"""Seller connections: create and read; token upkeep lives with each marketplace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.repository import AccountRepository
from app.accounts.schemas import (
    AccountCreate,
    LazadaAccountCreate,
    ShoplazzaAccountCreate,
)
from app.exceptions import Conflict, NotFound
from app.models import MarketplaceAccount


class AccountExists(Conflict):
    code = "account_exists"
    title = "This seller is already connected"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "No such account"


class AccountService:
    async def create(self, session: AsyncSession, data: AccountCreate) -> MarketplaceAccount:
        values = self._values(data)
        account = await AccountRepository.from_session(session).create(values)
        if account is None:
            raise AccountExists(f"This {data.marketplace} account is already connected.")
        return account

    @staticmethod
    def _values(data: AccountCreate) -> dict[str, object]:
        if isinstance(data, LazadaAccountCreate):
            return {
                "marketplace": data.marketplace,
                "seller_id": data.seller_id,
                "country": data.country,
                "access_token": data.access_token.get_secret_value(),
                "refresh_token": data.refresh_token.get_secret_value(),
                "access_token_expires_at": data.access_token_expires_at,
                "refresh_token_expires_at": data.refresh_token_expires_at,
                "needs_reauth": False,
            }
        if isinstance(data, ShoplazzaAccountCreate):
            return {
                "marketplace": data.marketplace,
                "seller_id": data.shop_domain,
                "access_token": data.access_token.get_secret_value(),
                "needs_reauth": False,
            }
        return {
            "marketplace": data.marketplace,
            "seller_id": data.seller_id,
            "site": data.site,
            "api_key": data.api_key.get_secret_value(),
            "secret_key": data.secret_key.get_secret_value(),
            "needs_reauth": False,
        }

    async def get(self, session: AsyncSession, account_id: uuid.UUID) -> MarketplaceAccount:
        account = await AccountRepository.from_session(session).get(account_id)
        if account is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        return account

    async def list(
        self, session: AsyncSession, *, needs_reauth: bool | None
    ) -> Sequence[MarketplaceAccount]:
        return await AccountRepository.from_session(session).list(needs_reauth=needs_reauth)


account = AccountService()
