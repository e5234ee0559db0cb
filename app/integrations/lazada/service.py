"""Webhook intake: store the push, and in the same transaction queue the work it calls for."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.external_events.repository import ExternalEventRepository
from app.integrations.lazada.jobs import enqueue_order_sync, enqueue_token_refresh
from app.integrations.lazada.push import SYNC_TYPES, TOKEN_EXPIRING, LazadaPush
from app.models import EventState

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    event_id: int | None
    duplicate: bool
    state: EventState | None


async def ingest(session: AsyncSession, push: LazadaPush, raw_body: bytes) -> IngestResult:
    repository = ExternalEventRepository.from_session(session)
    inserted = await repository.insert_routed(
        push.to_new_event(),
        # The raw body, not a re-serialisation: what Lazada signed is what we keep.
        payload_json=raw_body.decode(),
        needs_account=push.seller_id is not None,
    )
    if inserted is None:
        log.info("lazada.webhook.duplicate", seller_id=push.seller_id, order_id=push.order_id)
        return IngestResult(event_id=None, duplicate=True, state=None)
    if inserted.state == EventState.pending and inserted.account_id is not None:
        if push.message_type in SYNC_TYPES and push.order_id is not None:
            await enqueue_order_sync(session, inserted.account_id, push.order_id)
        elif push.message_type == TOKEN_EXPIRING:
            await enqueue_token_refresh(session, inserted.account_id)
    elif inserted.state == EventState.unroutable:
        log.warning("lazada.webhook.unroutable", seller_id=push.seller_id, site=push.site)
    return IngestResult(event_id=inserted.id, duplicate=False, state=inserted.state)
