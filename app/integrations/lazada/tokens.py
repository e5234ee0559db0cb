"""Access-token upkeep: refresh once per account at a time, keep the newest refresh token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import credentials
from app.accounts.credentials import UNREADABLE_REASON, CredentialsUnreadable
from app.accounts.repository import AccountRepository
from app.db import transaction
from app.external_events.repository import ExternalEventRepository
from app.integrations.errors import AccessTokenInvalid, RefreshTokenInvalid
from app.integrations.lazada.client import LazadaClient
from app.integrations.lazada.jobs import enqueue_account_sync, enqueue_backfill
from app.integrations.lazada.push import SYNC_TYPES, TOKEN_EXPIRING
from app.kit.locking import advisory_xact_lock
from app.kit.time import utc_now
from app.models import EventState, MarketplaceAccount
from app.sync_runs.repository import SyncRunRepository
from app.worker.context import WorkerContext
from app.worker.retry import PermanentJobError

log = structlog.get_logger(__name__)

T = TypeVar("T")


class AccountNeedsReauth(PermanentJobError):
    """Lazada refused the refresh token: only the seller authorising again helps."""

    def pause_reason(self) -> str:
        """What the work this pauses says while it waits (``last_error`` of its pushes)."""
        return f"paused until the seller authorises the app again: {self}"


class CredentialsPaused(AccountNeedsReauth):
    """The stored credentials cannot be decrypted: only re-connecting, or the key, helps."""

    def pause_reason(self) -> str:
        return f"paused: {self}"


class AccountGone(PermanentJobError):
    pass


class RefreshTokenExpired(RefreshTokenInvalid):
    """Our own verdict, from the stored expiry: no call is made."""


async def load_account(ctx: WorkerContext, account_id: uuid.UUID) -> MarketplaceAccount:
    """The account with its credentials, if a job may call Lazada for it."""
    try:
        async with transaction(ctx.sessionmaker) as session:
            account = await credentials.load(session, account_id)
    except CredentialsUnreadable as exc:
        raise await pause_unreadable(ctx, exc) from None
    return usable_account(account_id, account)


async def pause_unreadable(ctx: WorkerContext, exc: CredentialsUnreadable) -> CredentialsPaused:
    """Flag the account as a refused refresh token does, so that no job, sweep or schedule
    tries it again until it is re-connected, or the key is back (``resume_readable``)."""
    assert exc.account_id is not None
    async with transaction(ctx.sessionmaker) as session:
        await AccountRepository.from_session(session).flag_needs_reauth(
            exc.account_id, UNREADABLE_REASON
        )
    return CredentialsPaused(exc.detail)


def usable_account(account_id: uuid.UUID, account: MarketplaceAccount | None) -> MarketplaceAccount:
    """The account, if a job may call Lazada for it."""
    if account is None:
        raise AccountGone(f"account {account_id} no longer exists")
    if account.needs_reauth:
        raise AccountNeedsReauth(f"account {account_id} needs re-authorisation")
    return account


async def refresh_access_token(
    ctx: WorkerContext,
    account_id: uuid.UUID,
    *,
    stale_token: str | None = None,
    only_if_expiring_before: datetime | None = None,
) -> MarketplaceAccount:
    """Refresh the account's access token, coalescing concurrent refreshes.

    Every refresh invalidates the previous refresh token, so two workers refreshing at once
    would leave one of them holding a dead token. The advisory lock makes them take turns, and
    a worker that finds the token already replaced (``stale_token`` differs) uses the new one;
    likewise the periodic check's refresh (``only_if_expiring_before``) does nothing when the
    token it was queued for has been refreshed meanwhile.
    The new tokens commit in their own transaction: they must survive whatever happens next.
    A refresh token past its ``refresh_token_expires_at`` is not even tried: Lazada does not
    extend it (lazada.md §1.4), so the account needs the seller to authorise again.
    """
    try:
        return await _refresh(
            ctx,
            account_id,
            stale_token=stale_token,
            only_if_expiring_before=only_if_expiring_before,
        )
    except CredentialsUnreadable as exc:
        raise await pause_unreadable(ctx, exc) from None


async def _refresh(
    ctx: WorkerContext,
    account_id: uuid.UUID,
    *,
    stale_token: str | None,
    only_if_expiring_before: datetime | None,
) -> MarketplaceAccount:
    refused: str | None = None
    async with transaction(ctx.sessionmaker) as session:
        await advisory_xact_lock(session, f"lazada.refresh:{account_id}")
        account = await credentials.load(session, account_id, for_update=True)
        if account is None:
            raise AccountGone(f"account {account_id} no longer exists")
        if stale_token is not None and account.access_token != stale_token:
            return account
        if account.needs_reauth:
            raise AccountNeedsReauth(f"account {account_id} needs re-authorisation")
        expires = account.access_token_expires_at
        if only_if_expiring_before is not None and expires and expires > only_if_expiring_before:
            return account
        refresh_expires = account.refresh_token_expires_at
        try:
            if not account.refresh_token:
                raise RefreshTokenInvalid("no refresh token stored", marketplace="lazada")
            if refresh_expires is not None and refresh_expires <= utc_now():
                raise RefreshTokenExpired(
                    f"the refresh token expired at {refresh_expires.isoformat()}",
                    marketplace="lazada",
                )
            token = await ctx.lazada(account).refresh_access_token(account.refresh_token)
        except RefreshTokenInvalid as exc:
            if isinstance(exc, RefreshTokenExpired):
                refused = f"{exc.message}; the seller must authorise the app again"
            else:
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


@dataclass(frozen=True, slots=True)
class Resumed:
    orders: int  # orders with pushes waiting for the account's sync, queued again
    backfills: int  # paused backfills queued again
    alerts_closed: int  # token-expiry pushes the new tokens answer


async def resume(session: AsyncSession, account_id: uuid.UUID) -> Resumed:
    """After the seller authorised again: queue the work that waited for it, in the caller's
    transaction (so it is queued only if the new tokens are stored)."""
    events = ExternalEventRepository.from_session(session)
    waiting = await events.due_orders(
        account_id=account_id, message_types=sorted(SYNC_TYPES), min_age=0, limit=1000
    )
    if waiting:
        await enqueue_account_sync(session, account_id)
    runs = await SyncRunRepository.from_session(session).queued_backfills(account_id)
    for run_id in runs:
        await enqueue_backfill(session, run_id)
    closed = await events.mark_pending(
        account_id=account_id,
        external_order_id=None,
        new_state=EventState.processed,
        error="",
        message_types=[TOKEN_EXPIRING],
        count_attempt=False,
    )
    log.info(
        "lazada.account.resumed",
        account_id=str(account_id),
        orders=len(waiting),
        backfills=len(runs),
        alerts_closed=closed,
    )
    return Resumed(orders=len(waiting), backfills=len(runs), alerts_closed=closed)
