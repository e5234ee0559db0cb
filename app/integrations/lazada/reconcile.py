"""Pulling a Lazada account's orders by update time: the periodic reconcile and the backfill.

Pushes are not enough (they get lost, disabled, or arrive for an account we could not route),
so every account is also pulled: GetOrders by ``update_after`` over a window (paged by
``WindowPager``), the items of the orders it lists with GetMultipleOrderItems, 50 orders a call,
and both stored through ``apply_fetched`` like a push's fetch, never letting an older answer win.
An order we already hold at the listed ``updated_at`` and item statuses is not fetched again,
so a reconcile of an account whose pushes work costs one list call per hundred orders.

Each pull is a ``sync_runs`` row: window, orders seen, orders changed, calls, outcome. A reconcile
starts where the last successful one ended (``reconciled_through``, kept ``reconcile_overlap``
early so that updates Lazada indexes late are read again) and ends when it started.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import structlog

from app.accounts.repository import AccountRepository
from app.db import transaction
from app.integrations.errors import AccessTokenInvalid, MarketplaceError, TransientError
from app.integrations.lazada.client import (
    MAX_MULTI_ORDER_IDS,
    MAX_ORDERS_OFFSET,
    MAX_ORDERS_PAGE,
    LazadaClient,
)
from app.integrations.lazada.pager import WindowPager, WindowStuck
from app.integrations.lazada.schemas import (
    LazadaOrder,
    LazadaOrderItems,
    LazadaOrderPage,
    orders_to_domain,
)
from app.integrations.lazada.tokens import (
    AccountNeedsReauth,
    load_account,
    refresh_access_token,
)
from app.kit.backoff import backoff_delay
from app.kit.time import utc_now
from app.models import MarketplaceAccount, SyncRun
from app.orders.repository import OrderRepository
from app.orders.service import order as order_service
from app.sync_runs.repository import FINISHED, RunKind, RunStatus, SyncRunRepository
from app.worker.context import WorkerContext
from app.worker.retry import describe

log = structlog.get_logger(__name__)

T = TypeVar("T")

SOURCES = {RunKind.reconcile: "lazada.reconcile", RunKind.backfill: "lazada.backfill"}


@dataclass
class Progress:
    orders_seen: int = 0
    orders_changed: int = 0
    calls_made: int = 0


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Limits:
    """GetOrders' page size and offset cap; tests lower them to page past the cap quickly."""

    page_size: int = MAX_ORDERS_PAGE
    max_offset: int = MAX_ORDERS_OFFSET
    items_batch: int = MAX_MULTI_ORDER_IDS


DEFAULT_LIMITS = Limits()


class _Caller:
    """Calls Lazada for one pull: counts every call, retries transient failures with backoff,
    and refreshes the access token once when Lazada says it is dead (keeping the new one for
    the rest of the pull)."""

    def __init__(self, ctx: WorkerContext, account: MarketplaceAccount, progress: Progress) -> None:
        self.ctx = ctx
        self.account = account
        self.progress = progress

    async def __call__(self, call: Callable[[LazadaClient], Awaitable[T]]) -> T:
        settings = self.ctx.settings
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            self.progress.calls_made += 1
            try:
                return await call(self.ctx.lazada(self.account))
            except AccessTokenInvalid:
                if refreshed:
                    raise
                refreshed = True
                self.account = await refresh_access_token(
                    self.ctx, self.account.id, stale_token=self.account.access_token
                )
            except TransientError as exc:
                if attempt >= settings.sync_max_attempts:
                    raise
                delay = backoff_delay(
                    attempt,
                    base=settings.retry_base_delay,
                    cap=settings.retry_max_delay,
                    retry_after=exc.retry_after,
                )
                log.info(
                    "lazada.pull.retry", attempt=attempt, delay=round(delay, 2), error=str(exc)
                )
                await asyncio.sleep(delay)


def _list_call(
    pager: WindowPager, window_end: datetime
) -> Callable[[LazadaClient], Awaitable[LazadaOrderPage]]:
    start, offset, limit = pager.start, pager.offset, pager.limit

    async def call(client: LazadaClient) -> LazadaOrderPage:
        return await client.get_orders(
            update_after=start, update_before=window_end, offset=offset, limit=limit
        )

    return call


def _items_call(
    order_ids: list[str],
) -> Callable[[LazadaClient], Awaitable[dict[str, LazadaOrderItems]]]:
    async def call(client: LazadaClient) -> dict[str, LazadaOrderItems]:
        return await client.get_multiple_order_items(order_ids)

    return call


async def unchanged_orders(
    ctx: WorkerContext, account_id: uuid.UUID, orders: Sequence[LazadaOrder]
) -> set[str]:
    """Orders we already hold exactly as listed (same ``updated_at``, same item statuses)."""
    async with transaction(ctx.sessionmaker) as session:
        stored = await OrderRepository.from_session(session).sync_marks(
            account_id, [order.order_id for order in orders]
        )
    unchanged = set()
    for order in orders:
        mark = stored.get(order.order_id)
        if mark is None or order.updated_at is None or mark[0] is None:
            continue
        if mark[0] == order.updated_at and sorted(set(order.statuses)) == sorted(mark[1]):
            unchanged.add(order.order_id)
    return unchanged


@dataclass(frozen=True, slots=True)
class _Fetched:
    page: LazadaOrderPage
    items: dict[str, LazadaOrderItems]


# Pages fetched ahead of those being stored, and pages stored at once (each in its own
# transaction): Lazada's pacing and Postgres's writes overlap instead of adding up.
PREFETCH_PAGES = 4
STORERS = 4


async def pull(
    ctx: WorkerContext,
    account: MarketplaceAccount,
    run: SyncRun,
    *,
    window_end: datetime,
    progress: Progress,
    limits: Limits = DEFAULT_LIMITS,
    on_progress: ProgressCallback | None = None,
) -> Progress:
    """Read every order updated in [``run.window_start``, ``window_end``] and store it,
    counting into ``progress`` (so that a failed pull still tells what it did).

    One task calls Lazada (a list page, then its items), up to ``PREFETCH_PAGES`` ahead of the
    ``STORERS`` tasks that store each page in one transaction. Two pages never hold the same
    order at the same ``updated_at``, and ``apply_fetched`` serialises and keeps the newest
    when an order changed between them. A failure anywhere stops the pull; pages already
    stored stay stored.
    """
    caller = _Caller(ctx, account, progress)
    pager = WindowPager(run.window_start, limit=limits.page_size, max_offset=limits.max_offset)
    source = SOURCES[RunKind(run.kind)]
    queue: asyncio.Queue[_Fetched | None] = asyncio.Queue(maxsize=PREFETCH_PAGES)

    async def fetch() -> None:
        try:
            while not pager.done:
                page = await caller(_list_call(pager, window_end))
                fresh = pager.accept(page.orders, page.count_total)
                progress.orders_seen += len(fresh)
                unchanged = await unchanged_orders(ctx, account.id, fresh)
                wanted = [order.order_id for order in fresh if order.order_id not in unchanged]
                items: dict[str, LazadaOrderItems] = {}
                for index in range(0, len(wanted), limits.items_batch):
                    batch = wanted[index : index + limits.items_batch]
                    items.update(await caller(_items_call(batch)))
                await queue.put(_Fetched(page, items))
        except asyncio.CancelledError:
            raise
        except BaseException:
            await queue.put(None)  # the pages before the failure are stored, then it is raised
            raise
        await queue.put(None)

    async def store() -> None:
        while (fetched := await queue.get()) is not None:
            async with transaction(ctx.sessionmaker) as session:
                # Orders left out of ``items`` (seen before, unchanged, not found) are skipped.
                for order in orders_to_domain(fetched.page, fetched.items):
                    result = await order_service.apply_fetched(
                        session, account.id, order, source=source
                    )
                    if result.created or result.status_changes:
                        progress.orders_changed += 1
                await SyncRunRepository.from_session(session).update_counts(
                    run.id,
                    orders_seen=progress.orders_seen,
                    orders_changed=progress.orders_changed,
                    calls_made=progress.calls_made,
                )
            if on_progress is not None:
                on_progress(progress)
        await queue.put(None)  # the end, for the next storer

    fetcher = asyncio.create_task(fetch())
    storers = [asyncio.create_task(store()) for _ in range(STORERS)]
    try:
        await asyncio.gather(*storers)
    except BaseException:
        for task in (fetcher, *storers):
            task.cancel()
        await asyncio.gather(fetcher, *storers, return_exceptions=True)
        raise
    await fetcher  # raises what stopped the fetching, if anything did
    log.info(
        "lazada.pull.done",
        account_id=str(account.id),
        run_id=run.id,
        orders_seen=progress.orders_seen,
        orders_changed=progress.orders_changed,
        calls=progress.calls_made,
        rolls=pager.rolls,
        shifts=pager.shifts,
    )
    return progress


async def _finish(
    ctx: WorkerContext,
    run: SyncRun,
    *,
    status: RunStatus,
    error: str | None,
    progress: Progress | None,
    through: datetime | None = None,
) -> SyncRun:
    async with transaction(ctx.sessionmaker) as session:
        finished = await SyncRunRepository.from_session(session).finish(
            run.id,
            status=status,
            error=error,
            orders_seen=progress.orders_seen if progress else None,
            orders_changed=progress.orders_changed if progress else None,
            calls_made=progress.calls_made if progress else None,
        )
        if through is not None:
            # A backfill from after the watermark leaves a gap behind it: it moves nothing.
            covering = run.window_start if run.kind == RunKind.backfill else None
            await AccountRepository.from_session(session).advance_reconciled_through(
                run.account_id, through, only_if_covering=covering
            )
    return finished


async def execute(
    ctx: WorkerContext,
    run: SyncRun,
    account: MarketplaceAccount,
    *,
    limits: Limits = DEFAULT_LIMITS,
    on_progress: ProgressCallback | None = None,
) -> SyncRun:
    """Pull the run's window up to now and record the outcome; returns the finished row.

    A failure is recorded on the row, not raised: the next reconcile (or the operator, for a
    backfill) tries again. ``AccountNeedsReauth`` is raised after recording, so that the job
    can leave its work paused; a backfill goes back to ``queued`` and is resumed when the
    seller authorises again.
    """
    window_end = utc_now()
    async with transaction(ctx.sessionmaker) as session:
        run = await SyncRunRepository.from_session(session).start(run.id, window_end=window_end)
    log.info(
        "lazada.pull.started",
        account_id=str(account.id),
        run_id=run.id,
        kind=run.kind,
        window_start=run.window_start.isoformat(),
    )
    progress = Progress()
    try:
        await pull(
            ctx,
            account,
            run,
            window_end=window_end,
            progress=progress,
            limits=limits,
            on_progress=on_progress,
        )
    except AccountNeedsReauth as exc:
        paused = RunStatus.queued if run.kind == RunKind.backfill else RunStatus.failed
        await _finish(ctx, run, status=paused, error=f"paused: {exc}", progress=progress)
        raise
    except (MarketplaceError, WindowStuck) as exc:
        log.warning("lazada.pull.failed", run_id=run.id, error=str(exc))
        return await _finish(
            ctx,
            run,
            status=RunStatus.failed,
            error=f"{type(exc).__name__}: {exc}",
            progress=progress,
        )
    except Exception as exc:
        log.exception("lazada.pull.error", run_id=run.id)
        return await _finish(
            ctx, run, status=RunStatus.failed, error=describe(exc), progress=progress
        )
    overlap = timedelta(seconds=ctx.settings.reconcile_overlap)
    return await _finish(
        ctx,
        run,
        status=RunStatus.succeeded,
        error=None,
        progress=progress,
        through=window_end - overlap,
    )


async def reconcile(
    ctx: WorkerContext,
    account_id: uuid.UUID,
    *,
    limits: Limits = DEFAULT_LIMITS,
) -> SyncRun:
    """One reconcile of an account, from its watermark (or, the first time, from one interval
    ago or its connection, whichever is later) to now."""
    account = await load_account(ctx, account_id)
    settings = ctx.settings
    window_start = account.reconciled_through
    if window_start is None:
        window_start = max(
            account.created_at, utc_now() - timedelta(seconds=settings.reconcile_interval)
        ) - timedelta(seconds=settings.reconcile_overlap)
    async with transaction(ctx.sessionmaker) as session:
        run = await SyncRunRepository.from_session(session).create(
            account_id=account_id,
            kind=RunKind.reconcile,
            status=RunStatus.queued,
            window_start=window_start,
        )
    return await execute(ctx, run, account, limits=limits)


async def backfill(
    ctx: WorkerContext,
    run_id: int,
    *,
    limits: Limits = DEFAULT_LIMITS,
    on_progress: ProgressCallback | None = None,
) -> SyncRun | None:
    """Run a recorded backfill (``None``: the row is gone); a finished one is left as is."""
    async with transaction(ctx.sessionmaker) as session:
        run = await SyncRunRepository.from_session(session).get(run_id)
    if run is None:
        return None
    if run.status in FINISHED:
        return run
    try:
        account = await load_account(ctx, run.account_id)
    except AccountNeedsReauth as exc:
        await _finish(ctx, run, status=RunStatus.queued, error=f"paused: {exc}", progress=None)
        raise
    return await execute(ctx, run, account, limits=limits, on_progress=on_progress)
