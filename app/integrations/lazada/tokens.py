"""Access-token upkeep: refresh once per account at a time, keep the newest refresh token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import structlog

from app.accounts.repository import AccountRepository
from app.db import transaction
from app.integrations.errors import AccessTokenInvalid, RefreshTokenInvalid
from app.integrations.lazada.client import LazadaClient
from app.kit.locking import advisory_xact_lock
from app.kit.time import utc_now
from app.models import MarketplaceAccount
from app.worker.context import WorkerContext
from app.worker.retry import PermanentJobError

log = structlog.get_logger(__name__)

T = TypeVar("T")


class AccountNeedsReauth(PermanentJobError):
    """Lazada refused the refresh token: only the seller authorising again helps."""


class AccountGone(PermanentJobError):
    pass


async def load_account(ctx: WorkerContext, account_id: uuid.UUID) -> MarketplaceAccount:
    async with transaction(ctx.sessionmaker) as session:
        account = await AccountRepository.from_session(session).get(account_id)
    if account is None:
        raise AccountGone(f"account {account_id} no longer exists")
    if account.needs_reauth:
        raise AccountNeedsReauth(f"account {account_id} needs re-authorisation")
    return account


async def refresh_access_token(
    ctx: WorkerContext, account_id: uuid.UUID, *, stale_token: str | None = None
) -> MarketplaceAccount:
    """Refresh the account's access token, coalescing concurrent refreshes.

    Every refresh invalidates the previous refresh token, so two workers refreshing at once
    would leave one of them holding a dead token. The advisory lock makes them take turns, and
    a worker that finds the token already replaced (``stale_token`` differs) uses the new one.
    The new tokens commit in their own transaction: they must survive whatever happens next.
    """
    refused: str | None = None
    async with transaction(ctx.sessionmaker) as session:
        await advisory_xact_lock(session, f"lazada.refresh:{account_id}")
        repository = AccountRepository.from_session(session)
        account = await repository.get(account_id, for_update=True)
        if account is None:
            raise AccountGone(f"account {account_id} no longer exists")
        if stale_token is not None and account.access_token != stale_token:
            return account
        if account.needs_reauth:
            raise AccountNeedsReauth(f"account {account_id} needs re-authorisation")
        try:
            if not account.refresh_token:
                raise RefreshTokenInvalid("no refresh token stored", marketplace="lazada")
            token = await ctx.lazada(account).refresh_access_token(account.refresh_token)
        except RefreshTokenInvalid as exc:
            refused = f"Lazada refused the refresh token ({exc.code or exc.message})"
            account.needs_reauth = True
            account.reauth_reason = refused
        else:
            now = utc_now()
            account.access_token = token.access_token
            account.refresh_token = token.refresh_token
            if token.expires_in:
                account.access_token_expires_at = now + timedelta(seconds=token.expires_in)
            if token.refresh_expires_in:
                account.refresh_token_expires_at = now + timedelta(seconds=token.refresh_expires_in)
            log.info("lazada.token.refreshed", account_id=str(account_id))
    if refused is not None:
        log.warning("lazada.token.refused", account_id=str(account_id))
        raise AccountNeedsReauth(refused)
    return account


async def with_fresh_token(
    ctx: WorkerContext,
    account: MarketplaceAccount,
    call: Callable[[LazadaClient], Awaitable[T]],
) -> T:
    """Make a call; if Lazada says the access token is dead, refresh it and try once more."""
    try:
        return await call(ctx.lazada(account))
    except AccessTokenInvalid:
        log.info("lazada.token.rejected", account_id=str(account.id))
        account = await refresh_access_token(ctx, account.id, stale_token=account.access_token)
        return await call(ctx.lazada(account))
