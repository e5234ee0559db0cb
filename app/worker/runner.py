"""The worker: PgQueuer's QueueManager running our jobs, the inbox sweeper, and the schedulers
of periodic work, each a supervised loop (``app.kit.supervisor``).

The same loops run inside ``ordersync serve`` (beside the API's spool drainer) and in
``ordersync worker``. None of them stops another: when Postgres restarts, the queue loop's
connections die with it and PgQueuer raises; the supervisor starts it again, with a new pool and
a new LISTEN connection, as soon as Postgres answers, while the other loops wait it out on their
own. Jobs caught by the outage wait for the database and run again (``app.worker.executor``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import structlog
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.queries import Queries

from app import crypto, metrics
from app.cancellations import tasks as cancellation_tasks
from app.config import Settings
from app.db import (
    asyncpg_connect_args,
    database_unavailable,
    to_libpq_url,
    transaction,
    wait_for_database,
)
from app.external_events.repository import ExternalEventRepository
from app.integrations.lazada import schedule as lazada_schedule
from app.integrations.lazada import tasks as lazada_tasks
from app.integrations.lazada.jobs import SYNC_ACCOUNT, enqueue_account_sync
from app.kit.supervisor import Loop, Supervisor
from app.kit.time import utc_now
from app.worker.context import WorkerContext
from app.worker.executor import ContextQueueManager

log = structlog.get_logger(__name__)

T = TypeVar("T")

MIN_POLL_INTERVAL = timedelta(seconds=0.02)
# How often PgQueuer checks that a NOTIFY reaches its LISTEN connection; when one does not, the
# queue loop ends and the supervisor starts it with a fresh connection.
LISTENER_CHECK = timedelta(seconds=10)


def new_supervisor(settings: Settings) -> Supervisor:
    """The supervisor every process runs its loops under."""
    return Supervisor(
        max_delay=settings.loop_restart_max_delay,
        expected=database_unavailable,
        on_restart=metrics.count_restart,
    )


async def sweep_once(ctx: WorkerContext) -> int:
    """Queue the sync of every account whose pushes have waited longer than ``sweep_age``.

    Coalescing in the webhook is race-free for the common cases; this is the net under the rare
    ones (a push landing just as its account's sync finishes, a job lost with a dropped
    database), so that an acknowledged push always gets its work done.
    """
    older_than = utc_now() - timedelta(seconds=ctx.settings.sweep_age)
    async with transaction(ctx.sessionmaker) as session:
        stale = await ExternalEventRepository.from_session(session).stale_pending_accounts(
            older_than=older_than, job_prefix=SYNC_ACCOUNT
        )
        for account_id in stale:
            await enqueue_account_sync(session, account_id)
    if stale:
        log.info("worker.sweep.requeued", accounts=len(stale))
    return len(stale)


def every(interval: float, step: Callable[[], Awaitable[Any]]) -> Callable[[Loop], Awaitable[None]]:
    """A loop that runs ``step`` every ``interval`` seconds; a failing step fails the loop, so
    the supervisor logs it, backs off and tells health checks."""

    async def run(loop: Loop) -> None:
        while not loop.stopping.is_set():
            await step()
            loop.beat()
            await loop.sleep(interval)

    return run


class _ReportingQueries(Queries):
    """PgQueuer's queries, telling the queue loop how it goes: "works" after every dequeue that
    got an answer (at least every ``dequeue_timeout``, busy or idle), "failing" as soon as a
    query of its main loop fails, although PgQueuer lets the jobs in flight finish (they wait
    for the database, ``app.worker.executor``) before it gives up."""

    loop: Loop

    async def _reported(self, query: Awaitable[T]) -> T:
        try:
            return await query
        except Exception as exc:
            self.loop.failing(exc)
            raise

    async def dequeue(self, *args: Any, **kwargs: Any) -> Any:
        jobs = await self._reported(super().dequeue(*args, **kwargs))
        self.loop.beat()
        return jobs

    async def queued_work(self, *args: Any, **kwargs: Any) -> Any:
        return await self._reported(super().queued_work(*args, **kwargs))

    async def eligible_queued_work(self, *args: Any, **kwargs: Any) -> Any:
        return await self._reported(super().eligible_queued_work(*args, **kwargs))

    async def next_deferred_eta(self, *args: Any, **kwargs: Any) -> Any:
        return await self._reported(super().next_deferred_eta(*args, **kwargs))


async def run_queue(ctx: WorkerContext, database_url: str, loop: Loop) -> None:
    """One life of the queue worker: a pool, a LISTEN connection, and PgQueuer until stopped
    (or until its connections fail, which ends this life and the supervisor starts the next)."""
    settings = ctx.settings
    concurrency = settings.worker_concurrency
    connect_args = asyncpg_connect_args("ordersync-worker-queue")
    # PgQueuer's bookkeeping (dequeue, heartbeat, completion) need not wait for the disk: a
    # crash of Postgres can at worst make a job run again, which every job already allows for
    # (a worker can die mid-job), and the webhook's commits stop queueing behind them.
    connect_args["server_settings"]["synchronous_commit"] = "off"
    pool = await asyncpg.create_pool(
        to_libpq_url(database_url), min_size=2, max_size=4, **connect_args
    )
    assert pool is not None
    try:
        queries = _ReportingQueries(AsyncpgPoolDriver(pool))
        queries.loop = loop
        qm = ContextQueueManager(
            queries,
            wait_for_database=lambda: wait_for_database(ctx.sessionmaker, stopping=loop.stopping),
        )
        # While every slot is busy and jobs are due, PgQueuer looks again after this pause (a
        # finished job does not wake it; only inserts of due jobs notify, migration 0004). At
        # its default of 0.1 s, eight slots could start at most 80 syncs a second.
        qm.min_dequeue_poll_interval = MIN_POLL_INTERVAL
        lazada_tasks.register(qm, ctx)
        cancellation_tasks.register(qm, ctx)

        async def stop_when_asked() -> None:
            await loop.stopping.wait()
            qm.shutdown.set()

        stopper = asyncio.create_task(stop_when_asked())
        log.info("worker.started", concurrency=concurrency)
        try:
            await qm.run(
                batch_size=max(1, concurrency // 2),
                max_concurrent_tasks=max(concurrency, 2),
                # Short: a retried job whose delay ends must not wait for the next
                # notification, and notifications missed while LISTEN was down are covered.
                dequeue_timeout=timedelta(seconds=1),
                heartbeat_timeout=timedelta(seconds=settings.job_heartbeat_timeout),
                shutdown_on_listener_failure=True,
            )
        finally:
            stopper.cancel()
        log.info("worker.stopped")
    finally:
        await _close(pool)


async def _close(pool: asyncpg.Pool) -> None:
    """Close gracefully, but never hang on a server that does not answer."""
    try:
        await asyncio.wait_for(pool.close(), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        pool.terminate()


def add_worker_loops(supervisor: Supervisor, ctx: WorkerContext, database_url: str) -> None:
    """The worker's loops: the queue (every job, Newegg cancellation polls included), the
    sweeper, and the schedulers of reconciles and token refreshes."""
    crypto.configure(ctx.settings.encryption_key_values)
    settings = ctx.settings
    supervisor.add("queue", lambda loop: run_queue(ctx, database_url, loop))
    interval = settings.sweep_interval
    supervisor.add("sweeper", every(interval, lambda: sweep_once(ctx)))
    supervisor.add(
        "reconcile-scheduler", every(interval, lambda: lazada_schedule.schedule_reconciles(ctx))
    )
    supervisor.add(
        "token-refresh-scheduler",
        every(interval, lambda: lazada_schedule.schedule_token_refreshes(ctx)),
    )


async def run_worker(ctx: WorkerContext, database_url: str, stop: asyncio.Event) -> None:
    """Run the worker's loops until ``stop`` is set."""
    supervisor = new_supervisor(ctx.settings)
    add_worker_loops(supervisor, ctx, database_url)
    supervisor.start()
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await supervisor.stop()
