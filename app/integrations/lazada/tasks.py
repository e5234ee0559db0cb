"""Worker jobs for Lazada: sync one order, refresh one account's token, reconcile or backfill
one account.

An account waiting for its seller to authorise again pauses its jobs: they return without
calling Lazada or spending an attempt, leaving their pushes pending (``last_error`` says why)
until ``PUT /v1/accounts/{id}/tokens`` queues them again. So does an account whose stored
credentials decrypt with none of the configured keys (it is flagged the same way), until it is
re-connected or the key is back.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
import structlog
from pgqueuer import QueueManager
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job

from app.accounts import credentials
from app.accounts.credentials import CredentialsUnreadable
from app.db import commit_without_flush_wait, transaction
from app.external_events.repository import ExternalEventRepository
from app.integrations.lazada import reconcile, sync
from app.integrations.lazada.jobs import (
    BACKFILL,
    RECONCILE,
    REFRESH_TOKEN,
    SYNC_ACCOUNT,
    SYNC_ORDER,
    enqueue_account_sync,
)
from app.integrations.lazada.push import SYNC_TYPES, TOKEN_EXPIRING
from app.integrations.lazada.tokens import (
    AccountGone,
    AccountNeedsReauth,
    pause_unreadable,
    refresh_access_token,
    usable_account,
    with_fresh_token,
)
from app.kit.time import utc_now
from app.models import EventState
from app.orders.service import order as order_service
from app.worker.context import WorkerContext
from app.worker.retry import run_with_retries

log = structlog.get_logger(__name__)

SYNC_SOURCE = sync.SYNC_SOURCE
# Another worker syncs the account: look again after this (it is a follow-up of a running one).
ACCOUNT_BUSY_RETRY = timedelta(seconds=0.5)


async def sync_order(ctx: WorkerContext, account_id: uuid.UUID, order_id: str) -> None:
    """Fetch the order and its items, store them, and close the pushes this fetch covers."""
    try:
        async with transaction(ctx.sessionmaker) as session:
            started = await ExternalEventRepository.from_session(session).clock()
            account = await credentials.load(session, account_id)
    except CredentialsUnreadable as exc:
        raise await pause_unreadable(ctx, exc) from None
    account = usable_account(account_id, account)
    fetched = await with_fresh_token(ctx, account, lambda client: client.fetch_order(order_id))
    async with transaction(ctx.sessionmaker) as session:
        # Everything this transaction writes can be fetched again: if a crash of Postgres loses
        # its commit, the pushes it would have closed are still pending and get synced again.
        await commit_without_flush_wait(session)
        result = await order_service.apply_fetched(session, account_id, fetched, source=SYNC_SOURCE)
        closed = await ExternalEventRepository.from_session(session).mark_order_processed(
            account_id=account_id, external_order_id=order_id, received_before=started
        )
    log.info(
        "lazada.order.synced",
        account_id=str(account_id),
        order_id=order_id,
        created=result.created,
        status_changes=result.status_changes,
        stale_items=result.stale_items,
        events_closed=closed,
    )


def register(qm: QueueManager, ctx: WorkerContext) -> None:
    settings = ctx.settings

    async def record(
        account_id: uuid.UUID,
        order_id: str | None,
        state: EventState,
        error: str,
        types: frozenset[int],
        *,
        count_attempt: bool = True,
    ) -> None:
        async with transaction(ctx.sessionmaker) as session:
            await ExternalEventRepository.from_session(session).mark_pending(
                account_id=account_id,
                external_order_id=order_id,
                new_state=state,
                error=error,
                message_types=sorted(types),
                count_attempt=count_attempt,
            )

    async def paused(
        account_id: uuid.UUID, order_id: str | None, exc: AccountNeedsReauth, types: frozenset[int]
    ) -> None:
        log.info("lazada.job.paused", account_id=str(account_id), order_id=order_id)
        reason = exc.pause_reason()
        await record(account_id, order_id, EventState.pending, reason, types, count_attempt=False)

    @qm.entrypoint(SYNC_ACCOUNT)
    async def sync_account_job(job: Job) -> None:
        """A slice of the account's sync; what is left, it queues again (a follow-up while
        this one runs, so behind every other account's waiting sync)."""
        payload = orjson.loads(job.payload or b"{}")
        account_id = uuid.UUID(payload["account_id"])
        try:
            outcome = await sync.sync_account(ctx, account_id, job_id=job.id)
        except sync.AccountBusy:
            raise RetryRequested(delay=ACCOUNT_BUSY_RETRY) from None
        except AccountNeedsReauth as exc:
            await paused(account_id, None, exc, SYNC_TYPES)
            return
        except AccountGone:
            log.info("lazada.sync.account_gone", account_id=str(account_id))
            return
        delay: timedelta | None = None
        if not outcome.more_due:
            if outcome.next_due is None:
                return
            delay = max(timedelta(0), outcome.next_due - utc_now())
        async with transaction(ctx.sessionmaker) as session:
            await enqueue_account_sync(session, account_id, delay=delay)

    @qm.entrypoint(SYNC_ORDER, on_failure="hold")
    async def sync_order_job(job: Job) -> None:
        payload = orjson.loads(job.payload or b"{}")
        account_id = uuid.UUID(payload["account_id"])
        order_id = str(payload["order_id"])

        async def on_retry(reason: str) -> None:
            await record(account_id, order_id, EventState.pending, reason, SYNC_TYPES)

        async def on_give_up(reason: str) -> None:
            await record(account_id, order_id, EventState.failed, reason, SYNC_TYPES)

        async def work() -> None:
            try:
                await sync_order(ctx, account_id, order_id)
            except AccountNeedsReauth as exc:
                await paused(account_id, order_id, exc, SYNC_TYPES)

        await run_with_retries(
            job,
            work,
            max_attempts=settings.sync_max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            on_retry=on_retry,
            on_give_up=on_give_up,
        )

    @qm.entrypoint(REFRESH_TOKEN, on_failure="hold")
    async def refresh_token_job(job: Job) -> None:
        payload = orjson.loads(job.payload or b"{}")
        account_id = uuid.UUID(payload["account_id"])
        types = frozenset({TOKEN_EXPIRING})
        ahead = timedelta(seconds=settings.token_refresh_ahead)

        async def work() -> None:
            due = utc_now() + ahead if payload.get("only_if_due") else None
            try:
                await refresh_access_token(ctx, account_id, only_if_expiring_before=due)
            except AccountNeedsReauth as exc:
                await paused(account_id, None, exc, types)
                return
            await record(account_id, None, EventState.processed, "", types)

        async def on_retry(reason: str) -> None:
            await record(account_id, None, EventState.pending, reason, types)

        async def on_give_up(reason: str) -> None:
            await record(account_id, None, EventState.failed, reason, types)

        await run_with_retries(
            job,
            work,
            max_attempts=settings.sync_max_attempts,
            base_delay=settings.retry_base_delay,
            max_delay=settings.retry_max_delay,
            on_retry=on_retry,
            on_give_up=on_give_up,
        )

    @qm.entrypoint(RECONCILE)
    async def reconcile_job(job: Job) -> None:
        """Failures are recorded on the run, not retried here: the next interval's run starts
        from the same watermark."""
        payload = orjson.loads(job.payload or b"{}")
        account_id = uuid.UUID(payload["account_id"])
        try:
            await reconcile.reconcile(ctx, account_id)
        except AccountNeedsReauth:
            log.info("lazada.reconcile.paused", account_id=str(account_id))
        except AccountGone:
            log.info("lazada.reconcile.account_gone", account_id=str(account_id))

    @qm.entrypoint(BACKFILL)
    async def backfill_job(job: Job) -> None:
        payload = orjson.loads(job.payload or b"{}")
        run_id = int(payload["run_id"])
        try:
            await reconcile.backfill(ctx, run_id)
        except AccountNeedsReauth:
            log.info("lazada.backfill.paused", run_id=run_id)
        except AccountGone:
            log.info("lazada.backfill.account_gone", run_id=run_id)
