"""The inbox seen from the API: list, read, and replay events whose work failed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.repository import AccountRepository
from app.exceptions import Conflict, NotFound
from app.external_events.repository import ExternalEventRepository
from app.integrations.lazada.jobs import enqueue_account_sync, enqueue_token_refresh
from app.integrations.lazada.push import SYNC_TYPES, TOKEN_EXPIRING
from app.models import EventState, ExternalEvent

REPLAYABLE = (EventState.failed.value, EventState.unroutable.value)


class EventNotFound(NotFound):
    code = "webhook_event_not_found"
    title = "No such webhook event"


class EventNotReplayable(Conflict):
    code = "webhook_event_not_replayable"
    title = "Only failed or unroutable events can be replayed"


class StillUnroutable(Conflict):
    code = "webhook_event_unroutable"
    title = "No account matches this event's seller yet"


class ExternalEventService:
    async def list(
        self,
        session: AsyncSession,
        *,
        state: EventState | None,
        account_id: uuid.UUID | None,
        after_id: int | None,
        limit: int,
    ) -> Sequence[ExternalEvent]:
        return await ExternalEventRepository.from_session(session).list(
            state=state, account_id=account_id, after_id=after_id, limit=limit
        )

    async def get(self, session: AsyncSession, event_id: int) -> ExternalEvent:
        event = await ExternalEventRepository.from_session(session).get(event_id)
        if event is None:
            raise EventNotFound(f"Webhook event {event_id} does not exist.")
        return event

    async def replay(self, session: AsyncSession, event_id: int) -> ExternalEvent:
        """Queue the event's work again (a failed one), or route it now (an unroutable one)."""
        repository = ExternalEventRepository.from_session(session)
        event = await self.get(session, event_id)
        if event.state not in REPLAYABLE:
            raise EventNotReplayable(f"Event {event_id} is {event.state}.")
        account_id = event.account_id
        if account_id is None:
            account_id = await self._route(session, event)
        await repository.reopen(event, account_id=account_id)
        if event.message_type in SYNC_TYPES and event.external_order_id:
            await enqueue_account_sync(session, account_id)
        elif event.message_type == TOKEN_EXPIRING:
            await enqueue_token_refresh(session, account_id)
        return event

    async def _route(self, session: AsyncSession, event: ExternalEvent) -> uuid.UUID:
        country = (event.site or "").rsplit("_", 1)[-1] or None
        found = await AccountRepository.from_session(session).find_by_seller(
            event.source, event.seller_id or "", country
        )
        if found is None:
            raise StillUnroutable(f"No {event.source} account for seller {event.seller_id}.")
        return found.id


external_event = ExternalEventService()
