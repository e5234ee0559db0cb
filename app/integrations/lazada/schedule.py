"""The periodic part of Lazada upkeep, run by the worker's sweeper loop: queue a reconcile for
every account due one, and a token refresh for every access token about to expire.

Every worker runs this loop; the jobs' dedupe keys (one per account, held while a job is queued
or running) keep the work to one job per account however many workers look.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from app.accounts.repository import AccountRepository
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


async def schedule_once(ctx: WorkerContext) -> Scheduled:
    settings = ctx.settings
    now = utc_now()
    reconciles = refreshes = 0
    async with transaction(ctx.sessionmaker) as session:
        due = await SyncRunRepository.from_session(session).accounts_due_for_reconcile(
            marketplace=MARKETPLACE,
            last_started_before=now - timedelta(seconds=settings.reconcile_interval),
        )
        for account_id in due:
            reconciles += (await enqueue_reconcile(session, account_id)).job_id is not None
        expiring = await AccountRepository.from_session(session).expiring_access_tokens(
            marketplace=MARKETPLACE,
            expiring_before=now + timedelta(seconds=settings.token_refresh_ahead),
        )
        for account_id in expiring:
            queued = await enqueue_token_refresh(session, account_id, only_if_due=True)
            refreshes += queued.job_id is not None
    if reconciles or refreshes:
        log.info("lazada.schedule.queued", reconciles=reconciles, refreshes=refreshes)
    return Scheduled(reconciles=reconciles, refreshes=refreshes)
