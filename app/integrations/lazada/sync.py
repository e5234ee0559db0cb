"""An account's sync: the orders its pushes call for, one by one at rest, in batches under a
backlog.

A push queues its account's sync job (one waits per account, however many pushes come), and the
job reads the account's due pushes from the inbox, oldest first. With a few orders due, each is
fetched on its own (GetOrder + GetOrderItems) as soon as its pushes are ``ORDERSYNC_SYNC_DELAY``
old, a few at a time. With more than ``ORDERSYNC_SYNC_BATCH_THRESHOLD`` due (a mega-sale), the
sync pulls the window their pushes cover instead, as a reconcile does: GetOrders by update time,
100 orders a page with their headers, and the items of those we do not hold as listed with
GetMultipleOrderItems, 50 orders a call: about 0.03 calls an order where the order-by-order path
makes 2.

One sync runs per account at a time (a later job of the account steps back while an earlier one
runs: nothing held, nothing to leak), for at most ``ORDERSYNC_SYNC_SLICE`` seconds: then it
queues its own continuation and frees its worker slot, so that one
seller's backlog of any size cannot keep another seller's push waiting. Every store goes through
the same stale-proof ``apply_fetched`` as before and closes only the pushes its fetch covers
(received before it started); a push that arrives meanwhile is left for the next round.

An order that fails is that order's problem only: a transient failure counts an attempt on its
pushes and puts them back after a jittered backoff (``retry_at``), the last attempt parks them as
failed (replayable); an order Lazada does not know fails alone, and one bad id in a batch of 50
(Lazada's error 37 fails the whole call) is found by halving the batch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import structlog

from app.accounts import credentials
from app.accounts.credentials import CredentialsUnreadable
from app.db import commit_without_flush_wait, transaction
from app.external_events.repository import DueOrder, ExternalEventRepository
from app.integrations import errors
from app.integrations.base import FetchedOrder
from app.integrations.lazada.client import (
    MAX_MULTI_ORDER_IDS,
    MAX_ORDERS_OFFSET,
    MAX_ORDERS_PAGE,
    LazadaClient,
)
from app.integrations.lazada.jobs import account_sync_key
from app.integrations.lazada.pager import WindowPager, WindowStuck
from app.integrations.lazada.push import SYNC_TYPES
from app.integrations.lazada.reconcile import unchanged_orders
from app.integrations.lazada.schemas import LazadaOrderItems, LazadaOrderPage, orders_to_domain
from app.integrations.lazada.tokens import pause_unreadable, usable_account, with_fresh_token
from app.kit.backoff import backoff_delay
from app.models import MarketplaceAccount
from app.orders.service import order as order_service
from app.worker.context import WorkerContext
from app.worker.queue import runs_ahead

log = structlog.get_logger(__name__)

T = TypeVar("T")

SYNC_SOURCE = "lazada.sync"
BATCH = MAX_MULTI_ORDER_IDS
ONE_BY_ONE_AT_ONCE = 4  # orders fetched side by side when there are only a few
# A push's status time and the order's updated_at come from different clocks at Lazada.
HEADER_WINDOW_MARGIN = timedelta(seconds=2)
SYNC_TYPE_LIST = sorted(SYNC_TYPES)


class Calls(Protocol):
    """Calls Lazada for the account being synced (refreshing its token once if need be)."""

    async def __call__(self, work: Callable[[LazadaClient], Awaitable[T]]) -> T: ...


class AccountBusy(Exception):
    """Another worker is syncing this account: come back shortly."""


@dataclass
class Slice:
    """What one run of an account's sync did, and what is left."""

    orders_synced: int = 0
    orders_deferred: int = 0
    orders_failed: int = 0
    batches: int = 0
    more_due: bool = False  # it stopped at the end of its slice with orders still due
    next_due: datetime | None = None  # otherwise, when the next pending push becomes due


async def sync_account(ctx: WorkerContext, account_id: uuid.UUID, *, job_id: int) -> Slice:
    """Sync the account's due orders for up to one slice, as job ``job_id``. Raises
    ``AccountBusy`` when another sync of the account runs, ``AccountNeedsReauth`` or
    ``AccountGone`` when it cannot run."""
    settings = ctx.settings
    outcome = Slice()
    async with transaction(ctx.sessionmaker) as session:
        busy = await runs_ahead(
            session,
            account_sync_key(account_id),
            job_id=job_id,
            heartbeat_timeout=settings.job_heartbeat_timeout,
        )
    if busy:
        raise AccountBusy()
    deadline = time.monotonic() + settings.sync_slice
    while True:
        found = await _due(ctx, account_id)
        if found is None:
            break
        started, due, account = found
        if len(due) > settings.sync_batch_threshold:
            await _in_a_batch(ctx, account, due, started, outcome, deadline)
        else:
            await _one_by_one(ctx, account, [d.order_id for d in due], started, outcome)
        if time.monotonic() >= deadline:
            outcome.more_due = True
            return outcome
    async with transaction(ctx.sessionmaker) as session:
        outcome.next_due = await ExternalEventRepository.from_session(session).next_due(
            account_id=account_id, message_types=SYNC_TYPE_LIST, min_age=settings.sync_delay
        )
    return outcome


async def _due(
    ctx: WorkerContext, account_id: uuid.UUID
) -> tuple[datetime, Sequence[DueOrder], MarketplaceAccount] | None:
    """The database's clock, the account's due orders and the account, read together (None:
    nothing is due). A push received before that clock describes a change that any fetch
    started after it will see."""
    try:
        async with transaction(ctx.sessionmaker) as session:
            events = ExternalEventRepository.from_session(session)
            started = await events.clock()
            due = await events.due_orders(
                account_id=account_id,
                message_types=SYNC_TYPE_LIST,
                min_age=ctx.settings.sync_delay,
                limit=BATCH,
            )
            account = await credentials.load(session, account_id) if due else None
    except CredentialsUnreadable as exc:
        raise await pause_unreadable(ctx, exc) from None
    if not due:
        return None
    return started, due, usable_account(account_id, account)


# --- order by order ---------------------------------------------------------------------------


async def _one_by_one(
    ctx: WorkerContext,
    account: MarketplaceAccount,
    order_ids: Sequence[str],
    started: datetime,
    outcome: Slice,
) -> None:
    gate = asyncio.Semaphore(ONE_BY_ONE_AT_ONCE)

    async def one(order_id: str) -> None:
        async with gate:
            try:
                fetched = await with_fresh_token(
                    ctx, account, lambda client: client.fetch_order(order_id)
                )
            except errors.MarketplaceError as exc:
                await _failed(ctx, account.id, [order_id], exc, outcome)
                return
            await _store(ctx, account.id, [fetched], started)
            outcome.orders_synced += 1

    await asyncio.gather(*(one(order_id) for order_id in order_ids))


# --- in batches -------------------------------------------------------------------------------


async def _in_a_batch(
    ctx: WorkerContext,
    account: MarketplaceAccount,
    due: Sequence[DueOrder],
    started: datetime,
    outcome: Slice,
    deadline: float,
) -> None:
    """Pull the window the due pushes cover, as a reconcile does: GetOrders by update time
    (100 a page, from the oldest due push on), the items of the orders a page lists that we do
    not hold as listed (GetMultipleOrderItems, 50 a call), each page stored with its headers,
    and the pushes of every order on it closed. Lazada orders the list by update, not by our
    inbox, so the page decides the batch; the orders of a burst come out together.

    Until the slice ends or the window is read; a due order the window did not list (an id
    Lazada does not know, an update time off the push's) is then fetched on its own."""
    call = _calls(ctx, account)
    pager = WindowPager(_window_start(due), limit=MAX_ORDERS_PAGE, max_offset=MAX_ORDERS_OFFSET)
    seen: set[str] = set()
    try:
        while not pager.done and time.monotonic() < deadline:
            page = await call(_list_page(pager.start, pager.offset))
            fresh = pager.accept(page.orders, page.count_total)
            outcome.batches += 1
            if not fresh:
                continue
            unchanged = await unchanged_orders(ctx, account.id, fresh)
            changed = [order.order_id for order in fresh if order.order_id not in unchanged]
            items: dict[str, LazadaOrderItems] = {}
            for index in range(0, len(changed), BATCH):
                items.update(await _items(call, changed[index : index + BATCH]))
            listed = [order.order_id for order in fresh]
            stored = orders_to_domain(page, items)
            await _store(ctx, account.id, stored, started, listed)
            # An order listed but absent from the items answer is left pending: on its own below.
            closed = {order.external_order_id for order in stored} | unchanged
            seen.update(closed)
            outcome.orders_synced += len(closed)
    except WindowStuck:
        pager.done = True  # more orders in one second than GetOrders reaches: one by one
    except errors.MarketplaceError as exc:
        left = [d.order_id for d in due if d.order_id not in seen]
        if isinstance(exc, errors.PermanentError):
            await _one_by_one(ctx, account, left, started, outcome)
        else:
            await _failed(ctx, account.id, left, exc, outcome)
        return
    log.info(
        "lazada.batch.synced",
        account_id=str(account.id),
        orders=len(seen),
        pages=pager.rolls + 1,
        window_read=pager.done,
    )
    if pager.done:
        alone = [d.order_id for d in due if d.order_id not in seen]
        if alone:
            await _one_by_one(ctx, account, alone, started, outcome)


def _window_start(due: Sequence[DueOrder]) -> datetime:
    """From just before the earliest status the due pushes report (their receipt, if none)."""
    times = [d.first_status_time for d in due if d.first_status_time is not None]
    first = (
        datetime.fromtimestamp(min(times), tz=UTC) if times else min(d.first_received for d in due)
    )
    return first - HEADER_WINDOW_MARGIN


def _list_page(
    start: datetime, offset: int
) -> Callable[[LazadaClient], Awaitable[LazadaOrderPage]]:
    async def get(client: LazadaClient) -> LazadaOrderPage:
        return await client.get_orders(update_after=start, offset=offset, limit=MAX_ORDERS_PAGE)

    return get


async def _items(call: Calls, order_ids: list[str]) -> dict[str, LazadaOrderItems]:
    """GetMultipleOrderItems; a batch Lazada refuses for one incorrect id (error 37) is halved
    until the culprits stand alone (and are left out: fetched on their own later)."""
    try:
        return await call(lambda client: client.get_multiple_order_items(order_ids))
    except errors.Rejected as exc:
        if exc.code != "37" or len(order_ids) == 1:
            if exc.code == "37":
                return {}
            raise
    middle = len(order_ids) // 2
    return await _items(call, order_ids[:middle]) | await _items(call, order_ids[middle:])


def _calls(ctx: WorkerContext, account: MarketplaceAccount) -> Calls:
    class _Calls:
        async def __call__(self, work: Callable[[LazadaClient], Awaitable[T]]) -> T:
            return await with_fresh_token(ctx, account, work)

    return _Calls()


# --- storing, and what failed -----------------------------------------------------------------


async def _store(
    ctx: WorkerContext,
    account_id: uuid.UUID,
    fetched: Sequence[FetchedOrder],
    started: datetime,
    also_close: Sequence[str] = (),
) -> None:
    """Store fetched orders in one transaction, and close the pushes the fetch covers: the
    fetched orders', and ``also_close``'s (orders a listing showed as we hold them)."""
    close = [order.external_order_id for order in fetched]
    close += [order_id for order_id in also_close if order_id not in set(close)]
    if not close:
        return
    async with transaction(ctx.sessionmaker) as session:
        # Everything this transaction writes can be fetched again: if a crash of Postgres
        # loses its commit, the pushes it would have closed are still pending.
        await commit_without_flush_wait(session)
        for order in fetched:
            await order_service.apply_fetched(session, account_id, order, source=SYNC_SOURCE)
        await ExternalEventRepository.from_session(session).mark_orders_processed(
            account_id=account_id, order_ids=close, received_before=started
        )


async def _failed(
    ctx: WorkerContext,
    account_id: uuid.UUID,
    order_ids: Sequence[str],
    exc: errors.MarketplaceError,
    outcome: Slice,
) -> None:
    """Count a failed attempt on the orders' pushes: a permanent failure parks them at once,
    a transient one puts them back after a jittered backoff, the last attempt parks them."""
    settings = ctx.settings
    reason = f"{type(exc).__name__}: {exc}"
    permanent = isinstance(exc, errors.PermanentError)
    async with transaction(ctx.sessionmaker) as session:
        events = ExternalEventRepository.from_session(session)
        attempts = await events.attempts_of(account_id=account_id, order_ids=order_ids)
        delays = {
            order_id: backoff_delay(
                attempts.get(order_id, 0) + 1,
                base=settings.retry_base_delay,
                cap=settings.retry_max_delay,
                retry_after=exc.retry_after,
            )
            for order_id in order_ids
        }
        states = await events.defer_orders(
            account_id=account_id,
            delays=delays,
            message_types=SYNC_TYPE_LIST,
            error=reason,
            max_attempts=1 if permanent else settings.sync_max_attempts,
        )
    failed = [order_id for order_id, state in states.items() if state == "failed"]
    outcome.orders_failed += len(failed)
    outcome.orders_deferred += len(states) - len(failed)
    log.info(
        "lazada.orders.failed" if failed else "lazada.orders.retry",
        account_id=str(account_id),
        orders=len(order_ids),
        parked=len(failed),
        reason=reason,
    )
