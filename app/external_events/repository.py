"""SQL for the webhook inbox (``external_events``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import EventState, ExternalEvent
from app.worker.queue import FOLLOW_UP_SUFFIX


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
class InsertedEvent:
    id: int
    account_id: uuid.UUID | None
    state: EventState


# One round trip on the hot path: route to the account and insert, or do nothing on a duplicate.
_INSERT_ROUTED = text(
    """
    WITH account AS (
        SELECT id FROM marketplace_accounts
        WHERE marketplace = :source AND seller_id = :seller_id
          AND (CAST(:country AS text) IS NULL OR country = :country)
        ORDER BY created_at
        LIMIT 1
    )
    INSERT INTO external_events (
        source, dedupe_key, message_type, seller_id, site, external_order_id, external_line_id,
        status, status_update_time, account_id, state, payload
    )
    SELECT :source, :dedupe_key, :message_type, :seller_id, :site, :external_order_id,
           :external_line_id, :status, :status_update_time, account.id,
           CASE WHEN account.id IS NULL AND :needs_account THEN 'unroutable' ELSE :state END,
           CAST(:payload AS jsonb)
    FROM (SELECT 1) AS one LEFT JOIN account ON true
    ON CONFLICT (source, dedupe_key) DO NOTHING
    RETURNING id, account_id, state
    """
)


class ExternalEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ExternalEventRepository:
        return cls(session)

    async def insert_routed(
        self, event: NewEvent, *, payload_json: str, needs_account: bool
    ) -> InsertedEvent | None:
        """Insert unless the dedupe key exists; ``None`` means a duplicate."""
        result = await self.session.execute(
            _INSERT_ROUTED,
            {
                "source": event.source,
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
                "needs_account": needs_account,
                "payload": payload_json,
            },
        )
        row = result.one_or_none()
        if row is None:
            return None
        return InsertedEvent(id=row.id, account_id=row.account_id, state=EventState(row.state))

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
        has covered."""
        result = await self.session.execute(
            update(ExternalEvent)
            .where(
                ExternalEvent.account_id == account_id,
                ExternalEvent.external_order_id == external_order_id,
                ExternalEvent.state.in_([EventState.pending.value, EventState.failed.value]),
                ExternalEvent.received_at <= received_before,
            )
            .values(state=EventState.processed.value, handled_at=func.now(), last_error=None)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

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
        event.state = EventState.pending.value
        event.account_id = account_id
        event.last_error = None
        event.handled_at = None
        await self.session.flush()

    async def stale_pending_orders(
        self, *, older_than: datetime, limit: int, job_prefix: str
    ) -> Sequence[tuple[uuid.UUID, str]]:
        """Orders whose pending events have waited too long and have no sync queued or
        running (``job_prefix:{account}:{order}`` is the sync's dedupe key): the sweeper
        re-queues these. An order whose job is merely slow is left alone, and so is an account
        waiting for its seller to authorise again (re-authorising re-queues its pushes)."""
        result = await self.session.execute(
            text(
                """
                SELECT DISTINCT e.account_id, e.external_order_id
                FROM external_events AS e
                WHERE e.state = 'pending'
                  AND e.received_at < :older_than
                  AND e.account_id IS NOT NULL
                  AND e.external_order_id IS NOT NULL
                  AND NOT EXISTS (
                      SELECT 1 FROM marketplace_accounts AS a
                      WHERE a.id = e.account_id AND a.needs_reauth
                  )
                  AND NOT EXISTS (
                      SELECT 1 FROM pgqueuer AS j
                      WHERE j.status IN ('queued', 'picked')
                        AND (
                            j.dedupe_key = :prefix || ':' || e.account_id || ':'
                                || e.external_order_id
                            OR j.dedupe_key LIKE :prefix || ':' || e.account_id || ':'
                                || e.external_order_id || :follow_up || '%'
                        )
                  )
                LIMIT :limit
                """
            ),
            {
                "older_than": older_than,
                "limit": limit,
                "prefix": job_prefix,
                "follow_up": FOLLOW_UP_SUFFIX,
            },
        )
        return [(row[0], row[1]) for row in result.all()]

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
        return {state: count for state, count in rows.tuples()}
