from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Text, func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer_group

from app.models import MarketplaceAccount
from app.models.marketplace_account import CREDENTIALS

SECRET_COLUMNS = ("access_token", "refresh_token", "api_key", "secret_key")


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AccountRepository:
        return cls(session)

    async def get(
        self, account_id: uuid.UUID, *, for_update: bool = False, with_credentials: bool = False
    ) -> MarketplaceAccount | None:
        """The account; ``with_credentials``: decrypted too, or ``crypto.SecretUnreadable``
        (use ``app.accounts.credentials.load``, which says which account and what to do)."""
        statement = select(MarketplaceAccount).where(MarketplaceAccount.id == account_id)
        if for_update:
            statement = statement.with_for_update()
        if with_credentials:
            statement = statement.options(undefer_group(CREDENTIALS))
        return (await self.session.scalars(statement)).one_or_none()

    async def marketplace_of(self, account_id: uuid.UUID) -> str | None:
        statement = select(MarketplaceAccount.marketplace).where(
            MarketplaceAccount.id == account_id
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def flag_needs_reauth(self, account_id: uuid.UUID, reason: str) -> bool:
        """Mark the account as unusable until re-connected; an account already marked keeps
        its first reason. Returns whether this call marked it."""
        statement = (
            update(MarketplaceAccount)
            .where(MarketplaceAccount.id == account_id, MarketplaceAccount.needs_reauth.is_(False))
            .values(needs_reauth=True, reauth_reason=reason)
            .returning(MarketplaceAccount.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.scalars(statement)).one_or_none() is not None

    async def flagged_with(self, reason: str) -> Sequence[uuid.UUID]:
        statement = select(MarketplaceAccount.id).where(
            MarketplaceAccount.needs_reauth.is_(True), MarketplaceAccount.reauth_reason == reason
        )
        return (await self.session.scalars(statement)).all()

    async def clear_needs_reauth(self, account_id: uuid.UUID, *, reason: str) -> bool:
        """Undo ``flag_needs_reauth(account_id, reason)``, unless another reason replaced it."""
        statement = (
            update(MarketplaceAccount)
            .where(MarketplaceAccount.id == account_id, MarketplaceAccount.reauth_reason == reason)
            .values(needs_reauth=False, reauth_reason=None)
            .returning(MarketplaceAccount.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.scalars(statement)).one_or_none() is not None

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

    async def expiring_access_tokens(
        self, *, marketplace: str, expiring_before: datetime
    ) -> Sequence[uuid.UUID]:
        """Accounts whose access token expires before ``expiring_before`` (and that are not
        waiting for the seller to authorise again)."""
        statement = select(MarketplaceAccount.id).where(
            MarketplaceAccount.marketplace == marketplace,
            MarketplaceAccount.needs_reauth.is_(False),
            MarketplaceAccount.access_token_expires_at < expiring_before,
        )
        return (await self.session.scalars(statement)).all()

    async def advance_reconciled_through(
        self, account_id: uuid.UUID, through: datetime, *, only_if_covering: datetime | None = None
    ) -> None:
        """Move the reconcile watermark forward, never back. ``only_if_covering``: only when the
        pull started at or before the current watermark, so that no gap is skipped."""
        statement = (
            update(MarketplaceAccount)
            .where(MarketplaceAccount.id == account_id)
            .values(
                reconciled_through=func.greatest(
                    func.coalesce(MarketplaceAccount.reconciled_through, through), through
                )
            )
        )
        if only_if_covering is not None:
            statement = statement.where(MarketplaceAccount.reconciled_through >= only_if_covering)
        await self.session.execute(statement)

    async def stored_secrets(self) -> Sequence[tuple[uuid.UUID, dict[str, str | None]]]:
        """Every account's credentials exactly as stored (not decrypted), rows locked so that a
        concurrent token refresh waits instead of being overwritten."""
        columns = [
            type_coerce(getattr(MarketplaceAccount, name), Text).label(name)
            for name in SECRET_COLUMNS
        ]
        statement = (
            select(MarketplaceAccount.id, *columns)
            .order_by(MarketplaceAccount.id)
            .with_for_update()
        )
        rows = (await self.session.execute(statement)).all()
        return [(row.id, {name: getattr(row, name) for name in SECRET_COLUMNS}) for row in rows]

    async def write_secrets(self, account_id: uuid.UUID, plaintexts: dict[str, str]) -> None:
        """Store credentials (encrypted with the current key by the column type)."""
        await self.session.execute(
            update(MarketplaceAccount)
            .where(MarketplaceAccount.id == account_id)
            .values(plaintexts)
            .execution_options(synchronize_session=False)
        )
