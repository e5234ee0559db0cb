"""Webhook intake: store pushes, and in the same transaction queue the work they call for."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.external_events.repository import EventToStore, ExternalEventRepository
from app.integrations.lazada.jobs import enqueue_order_syncs, enqueue_token_refresh
from app.integrations.lazada.push import SYNC_TYPES, TOKEN_EXPIRING, LazadaPush
from app.models import EventState

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    event_id: int | None
    duplicate: bool
    state: EventState | None


@dataclass(frozen=True, slots=True)
class Received:
    """A verified, parsed push and the bytes it came as."""

    push: LazadaPush
    body: bytes
    request_id: str | None = None  # the webhook request's, carried into the jobs it causes


async def ingest_many(session: AsyncSession, received: Sequence[Received]) -> list[IngestResult]:
    """Store many pushes and queue their work: a constant number of round trips per batch.

    The pushes of one order coalesce into one sync here, as they would across transactions.
    """
    # The raw body, not a re-serialisation: what Lazada signed is what we keep.
    to_store = [
        EventToStore(
            item.push.to_new_event(),
            item.body.decode(),
            needs_account=item.push.seller_id is not None,
        )
        for item in received
    ]
    inserted = await ExternalEventRepository.from_session(session).insert_routed_many(to_store)
    syncs: dict[tuple[uuid.UUID, str], str | None] = {}  # (account, order) -> first request id
    refreshes: dict[uuid.UUID, str | None] = {}  # account -> first request id
    results: list[IngestResult] = []
    for item, event in zip(received, inserted, strict=True):
        push = item.push
        if event is None:
            log.info("lazada.webhook.duplicate", seller_id=push.seller_id, order_id=push.order_id)
            results.append(IngestResult(event_id=None, duplicate=True, state=None))
            continue
        results.append(IngestResult(event_id=event.id, duplicate=False, state=event.state))
        if event.state == EventState.pending and event.account_id is not None:
            if push.message_type in SYNC_TYPES and push.order_id is not None:
                syncs.setdefault((event.account_id, push.order_id), item.request_id)
            elif push.message_type == TOKEN_EXPIRING:
                refreshes.setdefault(event.account_id, item.request_id)
        elif event.state == EventState.unroutable:
            log.warning("lazada.webhook.unroutable", seller_id=push.seller_id, site=push.site)
    await enqueue_order_syncs(session, [(acc, order, rid) for (acc, order), rid in syncs.items()])
    for account_id, request_id in refreshes.items():  # token alerts are rare: one at a time
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await enqueue_token_refresh(session, account_id)
    return results
