"""The worker process: PgQueuer's QueueManager running our jobs, plus the inbox sweeper (which
also queues the periodic reconciles and token refreshes)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import structlog
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.queries import Queries

from app import crypto
from app.cancellations import tasks as cancellation_tasks
from app.db import to_libpq_url, transaction
from app.external_events.repository import ExternalEventRepository
from app.integrations.lazada import schedule as lazada_schedule
from app.integrations.lazada import tasks as lazada_tasks
from app.integrations.lazada.jobs import SYNC_ORDER, enqueue_order_sync
from app.kit.time import utc_now
from app.worker.context import WorkerContext
from app.worker.executor import ContextQueueManager

log = structlog.get_logger(__name__)

MIN_POLL_INTERVAL = timedelta(seconds=0.02)


async def sweep_once(ctx: WorkerContext) -> int:
    """Queue a sync for every order whose pushes have waited longer than ``sweep_age``.

    Coalescing in the webhook is race-free for the common cases; this is the net under the rare
    ones (a push landing just as its job finishes, a job lost with a dropped database), so that
    an acknowledged push always gets its work done.
    """
    older_than = utc_now() - timedelta(seconds=ctx.settings.sweep_age)
    async with transaction(ctx.sessionmaker) as session:
        stale = await ExternalEventRepository.from_session(session).stale_pending_orders(
            older_than=older_than, limit=500, job_prefix=SYNC_ORDER
        )
        for account_id, order_id in stale:
            await enqueue_order_sync(session, account_id, order_id)
    if stale:
        log.info("worker.sweep.requeued", orders=len(stale))
    return len(stale)


async def _sweep_forever(ctx: WorkerContext, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await sweep_once(ctx)
        except Exception:
            log.exception("worker.sweep.error")
        try:
            await lazada_schedule.schedule_once(ctx)  # reconciles and token refreshes due
        except Exception:
            log.exception("worker.schedule.error")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ctx.settings.sweep_interval)


async def run_worker(ctx: WorkerContext, database_url: str, stop: asyncio.Event) -> None:
    """Process jobs until ``stop`` is set."""
    crypto.configure(ctx.settings.encryption_key_values)
    concurrency = ctx.settings.worker_concurrency
    pool = await asyncpg.create_pool(
        to_libpq_url(database_url),
        min_size=2,
        max_size=4,
        # PgQueuer's bookkeeping (dequeue, heartbeat, completion) need not wait for the disk: a
        # crash of Postgres can at worst make a job run again, which every job already allows
        # for (a worker can die mid-job), and the webhook's commits stop queueing behind them.
        server_settings={
            "application_name": "ordersync-worker-queue",
            "synchronous_commit": "off",
        },
    )
    assert pool is not None
    try:
        qm = ContextQueueManager(Queries(AsyncpgPoolDriver(pool)))
        # While every slot is busy and jobs are due, PgQueuer looks again after this pause (a
        # finished job does not wake it; only inserts of due jobs notify, migration 0004). At
        # its default of 0.1 s, eight slots could start at most 80 syncs a second.
        qm.min_dequeue_poll_interval = MIN_POLL_INTERVAL
        lazada_tasks.register(qm, ctx)
        cancellation_tasks.register(qm, ctx)
        sweeper = asyncio.create_task(_sweep_forever(ctx, stop))

        async def stop_when_asked() -> None:
            await stop.wait()
            qm.shutdown.set()

        stopper = asyncio.create_task(stop_when_asked())
        log.info("worker.started", concurrency=concurrency)
        try:
            await qm.run(
                batch_size=max(1, concurrency // 2),
                max_concurrent_tasks=max(concurrency, 2),
                # Short: a retried job whose delay ends must not wait for the next notification.
                dequeue_timeout=timedelta(seconds=1),
                heartbeat_timeout=timedelta(seconds=ctx.settings.job_heartbeat_timeout),
            )
        finally:
            stop.set()
            stopper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            log.info("worker.stopped")
    finally:
        await pool.close()
