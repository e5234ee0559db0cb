"""The periodic part of Lazada upkeep, each run by a supervised worker loop: queue a reconcile
for every account due one (after resuming the accounts paused for credentials no key
decrypted, once a key does: after a restart), and a token refresh for every access token about
to expire.

Every worker runs these loops; the jobs' dedupe keys (one per account, held while a job is queued
or running) keep the work to one job per account however many workers look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from app.accounts.repository import AccountRepository
from app.accounts.service import account as account_service
from app.db import transaction
from app.integrations.lazada.jobs import enqueue_reconcile, enqueue_token_refresh
from app.kit.time import utc_now
from app.sync_runs.repository import SyncRunRepository
from app.worker.context import WorkerContext

log = structlog.get_logger(__name__)

MARKETPLACE = "lazada"


@dataclass(frozen=True, slots=True)
class Scheduled:
    reconciles: int
    refreshes: int


async def schedule_reconciles(ctx: WorkerContext) -> int:
    """Queue a reconcile for every account whose last one started an interval ago; first
    resume the accounts whose unreadable credentials can be read again."""
    last_started_before = utc_now() - timedelta(seconds=ctx.settings.reconcile_interval)
    queued = 0
    async with transaction(ctx.sessionmaker) as session:
        await account_service.resume_readable(session)
        due = await SyncRunRepository.from_session(session).accounts_due_for_reconcile(
            marketplace=MARKETPLACE, last_started_before=last_started_before
        )
        for account_id in due:
            queued += (await enqueue_reconcile(session, account_id)).job_id is not None
    if queued:
        log.info("lazada.schedule.reconciles_queued", reconciles=queued)
    return queued


async def schedule_token_refreshes(ctx: WorkerContext) -> int:
    """Queue a refresh for every access token that expires within the refresh-ahead window."""
    expiring_before = utc_now() + timedelta(seconds=ctx.settings.token_refresh_ahead)
    queued = 0
    async with transaction(ctx.sessionmaker) as session:
        expiring = await AccountRepository.from_session(session).expiring_access_tokens(
            marketplace=MARKETPLACE, expiring_before=expiring_before
        )
        for account_id in expiring:
            queued += (
                await enqueue_token_refresh(session, account_id, only_if_due=True)
            ).job_id is not None
    if queued:
        log.info("lazada.schedule.refreshes_queued", refreshes=queued)
    return queued


async def schedule_once(ctx: WorkerContext) -> Scheduled:
    """Both at once (tests and one-off callers)."""
    return Scheduled(
        reconciles=await schedule_reconciles(ctx), refreshes=await schedule_token_refreshes(ctx)
    )
