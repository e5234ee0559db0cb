"""Seller connections: create and read; token upkeep lives with each marketplace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app import crypto
from app.accounts.credentials import UNREADABLE_REASON
from app.accounts.repository import AccountRepository
from app.accounts.schemas import (
    AccountCreate,
    LazadaAccountCreate,
    ShoplazzaAccountCreate,
    TokensUpdate,
)
from app.exceptions import Conflict, NotFound
from app.integrations.lazada import tokens as lazada_tokens
from app.models import MarketplaceAccount

log = structlog.get_logger(__name__)


class AccountExists(Conflict):
    code = "account_exists"
    title = "This seller is already connected"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "No such account"


class TokensNotSupported(Conflict):
    code = "tokens_not_supported"
    title = "Tokens can be replaced on Lazada accounts only"


@dataclass(frozen=True, slots=True)
class Rotation:
    accounts: int
    rewritten: int  # accounts with a plaintext secret or one under an older key


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

    async def reauthorise(
        self, session: AsyncSession, account_id: uuid.UUID, data: TokensUpdate
    ) -> MarketplaceAccount:
        """Store the tokens of a new authorisation, clear ``needs_reauth``, and queue the work
        that waited for it (pending pushes, paused backfills), all in the caller's transaction.
        The row lock makes a token refresh in flight finish first: these tokens win."""
        account = await AccountRepository.from_session(session).get(account_id, for_update=True)
        if account is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        if account.marketplace != "lazada":
            raise TokensNotSupported(f"This is a {account.marketplace} account.")
        account.access_token = data.access_token.get_secret_value()
        account.refresh_token = data.refresh_token.get_secret_value()
        account.access_token_expires_at = data.access_token_expires_at
        account.refresh_token_expires_at = data.refresh_token_expires_at
        account.needs_reauth = False
        account.reauth_reason = None
        await session.flush()
        await session.refresh(account)
        await lazada_tokens.resume(session, account.id)
        return account

    async def resume_readable(self, session: AsyncSession) -> list[uuid.UUID]:
        """Accounts paused because their credentials could not be decrypted, that now can be
        (the key they were written with is back): unflag them and queue the work that waited,
        as re-connecting would have. Keys change only with a restart, and there are few such
        accounts, so the worker's periodic loop calls this without it costing anything."""
        repository = AccountRepository.from_session(session)
        resumed: list[uuid.UUID] = []
        for account_id in await repository.flagged_with(UNREADABLE_REASON):
            try:
                await repository.get(account_id, with_credentials=True)
            except crypto.SecretUnreadable:
                continue
            if await repository.clear_needs_reauth(account_id, reason=UNREADABLE_REASON):
                log.info("account.credentials.readable", account_id=str(account_id))
                await lazada_tokens.resume(session, account_id)
                resumed.append(account_id)
        return resumed

    async def get(self, session: AsyncSession, account_id: uuid.UUID) -> MarketplaceAccount:
        account = await AccountRepository.from_session(session).get(account_id)
        if account is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        return account

    async def list(
        self, session: AsyncSession, *, needs_reauth: bool | None
    ) -> Sequence[MarketplaceAccount]:
        return await AccountRepository.from_session(session).list(needs_reauth=needs_reauth)

    async def rotate_secrets(self, session: AsyncSession) -> Rotation:
        """Re-encrypt every credential not yet under the current (first) key: legacy plaintext
        and values under an older key alike. Refuses (``SecretUnreadable``, naming the account,
        never a value) when a value decrypts with none of the keys, before writing anything."""
        repository = AccountRepository.from_session(session)
        rewrites: dict[uuid.UUID, dict[str, str]] = {}
        stored = await repository.stored_secrets()
        for account_id, secrets in stored:
            for name, value in secrets.items():
                if value is None or crypto.is_current(value):
                    continue
                try:
                    rewrites.setdefault(account_id, {})[name] = crypto.decrypt(value)
                except crypto.SecretUnreadable:
                    raise crypto.SecretUnreadable(
                        f"account {account_id}: {name} decrypts with none of the keys in "
                        "ORDERSYNC_ENCRYPTION_KEYS (add the key it was written with)"
                    ) from None
        for account_id, plaintexts in rewrites.items():
            await repository.write_secrets(account_id, plaintexts)
        return Rotation(accounts=len(stored), rewritten=len(rewrites))


account = AccountService()
