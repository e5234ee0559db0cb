"""SQL for the webhook inbox (``external_events``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import driver_connection
from app.models import EventState, ExternalEvent
from app.worker.queue import COALESCED_ENQUEUE_CTES, candidate_suffixes


@dataclass(frozen=True, slots=True)
class NewEvent:
    source: str
    dedupe_key: str
    message_type: int | None
    seller_id: str | None
    site: str | None
    country: str | None
    external_order_id: str | None
    external_line_id: str | None
    status: str | None
    status_update_time: int | None
    payload: dict[str, Any]
    state: EventState


@dataclass(frozen=True, slots=True)
class DueOrder:
    """An order whose pending pushes are due for a sync."""

    order_id: str
    first_received: datetime  # its oldest pending push
    first_status_time: int | None  # the earliest status time those pushes report (epoch s)


@dataclass(frozen=True, slots=True)
class InsertedEvent:
    id: int
    account_id: uuid.UUID | None
    state: EventState


# The webhook's whole intake transaction in one statement, so one round trip per batch and no
# BEGIN or COMMIT of its own (run outside a transaction, the statement is one): route each push
# to its account and insert it unless its dedupe key is stored, then queue the jobs the new
# pending pushes call for under the queue's coalescing rules (app.worker.queue). The pushes go
# in as one JSON array of records, one row per stored push comes out. (One JSON parameter rather
# than an array per column: asyncpg checks every element of every array parameter against
# Python's abstract base classes, 32 such checks per push, 17% of the intake's Python time.)
_STORE_WITH_JOBS = (
    """
    WITH input AS (
        SELECT * FROM jsonb_to_recordset($2::jsonb) AS t(
            dedupe_key text, message_type int, seller_id text, site text, country text,
            external_order_id text, external_line_id text, status text,
            status_update_time bigint, state text, needs_account boolean, payload jsonb,
            job_entrypoint text, job_key_suffix text, job_payload jsonb, job_delay float8,
            request_id text, ord int
        )
    ),
    stored AS (
        INSERT INTO external_events (
            source, dedupe_key, message_type, seller_id, site, external_order_id,
            external_line_id, status, status_update_time, account_id, state, payload
        )
        SELECT $1, i.dedupe_key, i.message_type, i.seller_id, i.site, i.external_order_id,
               i.external_line_id, i.status, i.status_update_time, account.id,
               CASE WHEN account.id IS NULL AND i.needs_account THEN 'unroutable' ELSE i.state END,
               i.payload
        FROM input AS i
        LEFT JOIN LATERAL (
            SELECT id FROM marketplace_accounts
            WHERE marketplace = $1 AND seller_id = i.seller_id
              AND (i.country IS NULL OR country = i.country)
            ORDER BY created_at
            LIMIT 1
        ) AS account ON true
        -- Every batch inserts its keys in the same order, so two batches that hold some of the
        -- same keys (a push and its duplicate) wait for each other instead of deadlocking.
        ORDER BY i.dedupe_key
        ON CONFLICT (source, dedupe_key) DO NOTHING
        RETURNING id, dedupe_key, account_id, state
    ),
    wanted AS (
        SELECT DISTINCT ON (base_key) base_key, entrypoint, payload, request_id, delay
        FROM (
            SELECT i.job_entrypoint || ':' || s.account_id || i.job_key_suffix AS base_key,
                   i.job_entrypoint AS entrypoint,
                   convert_to(
                       (jsonb_build_object('account_id', s.account_id) || i.job_payload)::text,
                       'UTF8'
                   ) AS payload,
                   i.request_id, i.job_delay AS delay, i.ord
            FROM stored AS s JOIN input AS i USING (dedupe_key)
            WHERE s.state = 'pending' AND s.account_id IS NOT NULL
              AND i.job_entrypoint IS NOT NULL
        ) AS calls
        ORDER BY base_key, ord
    ),
    """
    + COALESCED_ENQUEUE_CTES.format(suffixes="$3")
    + """
    SELECT id, dedupe_key, account_id, state FROM stored
    """
)


_MARK_ORDER_PROCESSED = """
    UPDATE external_events SET state = 'processed', handled_at = now(), last_error = NULL
    WHERE account_id = $1 AND external_order_id = $2 AND state IN ('pending', 'failed')
      AND received_at <= $3
"""
_MARK_ORDERS_PROCESSED = """
    UPDATE external_events
    SET state = 'processed', handled_at = now(), last_error = NULL, retry_at = NULL
    WHERE account_id = $1 AND external_order_id = ANY($2::text[])
      AND state IN ('pending', 'failed') AND received_at <= $3
"""
# An account's orders whose pushes are due: the oldest pending pushes first (through
# ix_external_events_pending_account, so a backlog of any size costs the rows read, not the
# backlog), each at least ``$3`` seconds old (ORDERSYNC_SYNC_DELAY: the order's other lines,
# pushed one by one, join the same sync) and not waiting for a retry.
_DUE_ORDERS = """
    SELECT external_order_id, min(received_at) AS first_received,
           min(status_update_time) AS first_status_time
    FROM (
        SELECT external_order_id, received_at, status_update_time
        FROM external_events
        WHERE account_id = $1 AND state = 'pending' AND external_order_id IS NOT NULL
          AND message_type = ANY($2::int[])
          AND received_at <= now() - make_interval(secs => $3)
          AND (retry_at IS NULL OR retry_at <= now())
        ORDER BY received_at
        LIMIT $4 * 8
    ) AS oldest
    GROUP BY external_order_id
    ORDER BY min(received_at)
    LIMIT $4
"""
# When the account's next pending push becomes due (NULL: none waits): the oldest one not
# waiting for a retry, or the earliest retry. Two index probes, whatever the backlog.
_NEXT_DUE = """
    SELECT least(
        (SELECT received_at FROM external_events
         WHERE account_id = $1 AND state = 'pending' AND retry_at IS NULL
           AND external_order_id IS NOT NULL AND message_type = ANY($2::int[])
         ORDER BY received_at LIMIT 1) + make_interval(secs => $3),
        (SELECT retry_at FROM external_events
         WHERE account_id = $1 AND state = 'pending' AND retry_at IS NOT NULL
           AND external_order_id IS NOT NULL AND message_type = ANY($2::int[])
         ORDER BY retry_at LIMIT 1)
    )
"""
# A failed attempt on some orders' pending pushes: one more attempt counted, the error noted,
# and either a time to try again or, past the last attempt, the pushes parked as failed.
_DEFER_ORDERS = """
    UPDATE external_events AS e
    SET attempts = e.attempts + 1,
        last_error = $5,
        retry_at = CASE WHEN e.attempts + 1 >= $6 THEN NULL
                        ELSE now() + make_interval(secs => d.delay) END,
        state = CASE WHEN e.attempts + 1 >= $6 THEN 'failed' ELSE e.state END,
        handled_at = CASE WHEN e.attempts + 1 >= $6 THEN now() ELSE NULL END
    FROM unnest($2::text[], $3::float8[]) AS d(order_id, delay)
    WHERE e.account_id = $1 AND e.external_order_id = d.order_id AND e.state = 'pending'
      AND e.message_type = ANY($4::int[])
    RETURNING e.external_order_id, e.state, e.attempts
"""


@dataclass(frozen=True, slots=True)
class JobCall:
    """The job a stored push calls for once it is routed to an account: ``entrypoint`` under
    the key ``entrypoint:<account id><key_suffix>``, with ``{"account_id": ...} | payload``.
    When it is queued, ``delay`` holds it back; pushes that arrive meanwhile join it."""

    entrypoint: str
    key_suffix: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0  # seconds before it may start


@dataclass(frozen=True, slots=True)
class EventToStore:
    event: NewEvent
    payload_json: str  # stored as given: for a push, the very bytes that were signed
    needs_account: bool  # no matching account makes it ``unroutable``
    job: JobCall | None = None  # queued (coalesced) if the event is stored pending, routed
    request_id: str | None = None  # the request that brought it, carried into its job


async def store_with_jobs(
    connection: asyncpg.Connection, source: str, items: Sequence[EventToStore]
) -> list[InsertedEvent | None]:
    """Insert each event unless its dedupe key is stored, and queue the jobs they call for, in
    one statement; one answer per item, in order, ``None`` for a duplicate (also of an earlier
    item of the same batch). Outside a transaction the statement commits on its own."""
    first: dict[str, EventToStore] = {}
    for item in items:
        first.setdefault(item.event.dedupe_key, item)
    if not first:
        return []
    records = []
    for ord_, item in enumerate(first.values()):
        event, job = item.event, item.job
        records.append(
            {
                "dedupe_key": event.dedupe_key,
                "message_type": event.message_type,
                "seller_id": event.seller_id,
                "site": event.site,
                "country": event.country,
                "external_order_id": event.external_order_id,
                "external_line_id": event.external_line_id,
                "status": event.status,
                "status_update_time": event.status_update_time,
                "state": event.state.value,
                "needs_account": item.needs_account,
                # Embedded as it came (it is valid JSON: the push was parsed before).
                "payload": orjson.Fragment(item.payload_json),
                "job_entrypoint": job.entrypoint if job else None,
                "job_key_suffix": job.key_suffix if job else None,
                "job_payload": job.payload if job else None,
                "job_delay": job.delay if job else None,
                "request_id": item.request_id,
                "ord": ord_,
            }
        )
    rows = await connection.fetch(
        _STORE_WITH_JOBS, source, orjson.dumps(records).decode(), candidate_suffixes()
    )
    stored = {
        row["dedupe_key"]: InsertedEvent(
            id=row["id"], account_id=row["account_id"], state=EventState(row["state"])
        )
        for row in rows
    }
    answers: list[InsertedEvent | None] = []
    for item in items:
        key = item.event.dedupe_key
        # Only the first item with a key can have stored it; later ones are its duplicates.
        answers.append(stored.get(key) if first[key] is item else None)
    return answers


class ExternalEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ExternalEventRepository:
        return cls(session)

    async def clock(self) -> datetime:
        """The database's current time: the clock that stamps ``received_at``."""
        now: datetime = (await self.session.execute(select(func.clock_timestamp()))).scalar_one()
        return now

    async def get(self, event_id: int) -> ExternalEvent | None:
        return await self.session.get(ExternalEvent, event_id)

    async def list(
        self,
        *,
        state: EventState | None,
        account_id: uuid.UUID | None,
        after_id: int | None,
        limit: int,
    ) -> Sequence[ExternalEvent]:
        statement = select(ExternalEvent).order_by(ExternalEvent.id.desc()).limit(limit)
        if state is not None:
            statement = statement.where(ExternalEvent.state == state.value)
        if account_id is not None:
            statement = statement.where(ExternalEvent.account_id == account_id)
        if after_id is not None:
            statement = statement.where(ExternalEvent.id < after_id)
        return (await self.session.scalars(statement)).all()

    async def mark_order_processed(
        self, *, account_id: uuid.UUID, external_order_id: str, received_before: datetime
    ) -> int:
        """Close the pending events of an order that a fetch started after ``received_before``
        has covered. Every sync ends with this, so it goes straight to asyncpg."""
        driver = await driver_connection(self.session)
        status = await driver.execute(
            _MARK_ORDER_PROCESSED, account_id, external_order_id, received_before
        )
        return int(status.rsplit(" ", 1)[-1])  # "UPDATE <count>"

    async def mark_orders_processed(
        self, *, account_id: uuid.UUID, order_ids: Sequence[str], received_before: datetime
    ) -> int:
        """``mark_order_processed`` for many orders of one account, in one statement."""
        if not order_ids:
            return 0
        driver = await driver_connection(self.session)
        status = await driver.execute(
            _MARK_ORDERS_PROCESSED, account_id, list(order_ids), received_before
        )
        return int(status.rsplit(" ", 1)[-1])

    async def due_orders(
        self,
        *,
        account_id: uuid.UUID,
        message_types: Sequence[int],
        min_age: float,
        limit: int,
    ) -> Sequence[DueOrder]:
        """The account's orders whose pushes are due, oldest first (at most ``limit``)."""
        driver = await driver_connection(self.session)
        rows = await driver.fetch(_DUE_ORDERS, account_id, list(message_types), min_age, limit)
        return [
            DueOrder(row["external_order_id"], row["first_received"], row["first_status_time"])
            for row in rows
        ]

    async def next_due(
        self, *, account_id: uuid.UUID, message_types: Sequence[int], min_age: float
    ) -> datetime | None:
        """When the account's next pending push becomes due (None: none is pending)."""
        driver = await driver_connection(self.session)
        due: datetime | None = await driver.fetchval(
            _NEXT_DUE, account_id, list(message_types), min_age
        )
        return due

    async def defer_orders(
        self,
        *,
        account_id: uuid.UUID,
        delays: dict[str, float],
        message_types: Sequence[int],
        error: str,
        max_attempts: int,
    ) -> dict[str, str]:
        """Count a failed attempt on these orders' pending pushes: each tried again after its
        delay, or parked as failed once ``max_attempts`` are spent. Returns each order's state
        (``pending`` or ``failed``)."""
        if not delays:
            return {}
        driver = await driver_connection(self.session)
        rows = await driver.fetch(
            _DEFER_ORDERS,
            account_id,
            list(delays),
            list(delays.values()),
            list(message_types),
            error[:2000] or None,
            max_attempts,
        )
        return {row["external_order_id"]: row["state"] for row in rows}

    async def attempts_of(
        self, *, account_id: uuid.UUID, order_ids: Sequence[str]
    ) -> dict[str, int]:
        """The attempts spent on each order's pending pushes so far (the most of any)."""
        if not order_ids:
            return {}
        rows = await self.session.execute(
            select(ExternalEvent.external_order_id, func.max(ExternalEvent.attempts))
            .where(
                ExternalEvent.account_id == account_id,
                ExternalEvent.state == EventState.pending.value,
                ExternalEvent.external_order_id.in_(list(order_ids)),
            )
            .group_by(ExternalEvent.external_order_id)
        )
        return {order_id: int(attempts) for order_id, attempts in rows if order_id}

    async def mark_pending(
        self,
        *,
        account_id: uuid.UUID,
        external_order_id: str | None,
        new_state: EventState,
        error: str,
        message_types: Sequence[int],
        count_attempt: bool = True,
    ) -> int:
        """Record an attempt's error on the still-pending events of an order (or of an account
        when ``external_order_id`` is None), optionally moving them to ``new_state``.
        ``count_attempt=False``: nothing was tried (the work is paused), only the reason noted."""
        conditions = [
            ExternalEvent.account_id == account_id,
            ExternalEvent.state == EventState.pending.value,
            ExternalEvent.message_type.in_(message_types),
        ]
        if external_order_id is not None:
            conditions.append(ExternalEvent.external_order_id == external_order_id)
        result = await self.session.execute(
            update(ExternalEvent)
            .where(and_(*conditions))
            .values(
                state=new_state.value,
                attempts=ExternalEvent.attempts + (1 if count_attempt else 0),
                last_error=error[:2000] or None,
                handled_at=func.now() if new_state != EventState.pending else None,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def reopen(self, event: ExternalEvent, *, account_id: uuid.UUID | None) -> None:
        """Pending again, with its attempts spent so far forgotten (a replay starts over)."""
        event.state = EventState.pending.value
        event.account_id = account_id
        event.last_error = None
        event.handled_at = None
        event.attempts = 0
        event.retry_at = None
        await self.session.flush()

    async def stale_pending_accounts(
        self, *, older_than: datetime, job_prefix: str
    ) -> Sequence[uuid.UUID]:
        """Accounts with pushes pending since before ``older_than`` (and not waiting for a
        retry) but no sync queued or running (``job_prefix:{account}`` is its dedupe key, with
        the queue's follow-up suffixes): the sweeper queues these. An account waiting for its
        seller to authorise again is left alone (re-authorising queues its sync). A few index
        probes per account, whatever the backlog or the queue's length."""
        result = await self.session.execute(
            text(
                """
                SELECT a.id FROM marketplace_accounts AS a
                WHERE NOT a.needs_reauth
                  AND EXISTS (
                      SELECT 1 FROM external_events AS e
                      WHERE e.account_id = a.id AND e.state = 'pending'
                        AND e.received_at < :older_than
                        AND e.external_order_id IS NOT NULL
                        AND (e.retry_at IS NULL OR e.retry_at <= now())
                  )
                  AND NOT EXISTS (
                      SELECT 1 FROM pgqueuer AS j
                      WHERE j.status IN ('queued', 'picked')
                        AND j.dedupe_key = ANY (ARRAY(
                            SELECT :prefix || ':' || a.id || suffix
                            FROM unnest(CAST(:suffixes AS text[])) AS suffix
                        ))
                  )
                """
            ),
            {"older_than": older_than, "prefix": job_prefix, "suffixes": candidate_suffixes()},
        )
        return [row[0] for row in result.all()]

    async def pending_orders(
        self, account_id: uuid.UUID, *, message_types: Sequence[int], limit: int
    ) -> Sequence[str]:
        """Orders of one account with pushes still pending (re-queued when it is usable again)."""
        statement = (
            select(ExternalEvent.external_order_id)
            .where(
                ExternalEvent.account_id == account_id,
                ExternalEvent.state == EventState.pending.value,
                ExternalEvent.message_type.in_(message_types),
                ExternalEvent.external_order_id.is_not(None),
            )
            .group_by(ExternalEvent.external_order_id)
            .order_by(func.min(ExternalEvent.received_at))
            .limit(limit)
        )
        return [order_id for order_id in (await self.session.scalars(statement)) if order_id]

    async def count_by_state(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(ExternalEvent.state, func.count()).group_by(ExternalEvent.state)
        )
        return {state: count for state, count in rows}
