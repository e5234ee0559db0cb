"""Webhook intake: store pushes, and in the same transaction queue the work they call for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from app.external_events.repository import EventToStore, JobCall, store_with_jobs
from app.integrations.lazada.jobs import REFRESH_TOKEN, SYNC_ACCOUNT
from app.integrations.lazada.push import SOURCE, SYNC_TYPES, TOKEN_EXPIRING, LazadaPush
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


async def ingest_many(
    connection: asyncpg.Connection, received: Sequence[Received], *, sync_delay: float = 0.0
) -> list[IngestResult]:
    """Store many pushes and queue their work in one statement, so one round trip per batch.

    Run outside a transaction, the statement commits on its own; inside one, with it. The
    pushes of one order coalesce into one sync here, as they do across batches; a sync starts
    ``sync_delay`` seconds after the push that queued it at the earliest, so that the other
    lines of the order, pushed one by one, join it instead of causing another fetch.
    """
    to_store = [
        # The raw body, not a re-serialisation: what Lazada signed is what we keep.
        EventToStore(
            item.push.to_new_event(),
            item.body.decode(),
            needs_account=item.push.seller_id is not None,
            job=_job_for(item.push, sync_delay),
            request_id=item.request_id,
        )
        for item in received
    ]
    inserted = await store_with_jobs(connection, SOURCE, to_store)
    results: list[IngestResult] = []
    for item, event in zip(received, inserted, strict=True):
        push = item.push
        if event is None:
            log.info("lazada.webhook.duplicate", seller_id=push.seller_id, order_id=push.order_id)
            results.append(IngestResult(event_id=None, duplicate=True, state=None))
            continue
        results.append(IngestResult(event_id=event.id, duplicate=False, state=event.state))
        if event.state == EventState.unroutable:
            log.warning("lazada.webhook.unroutable", seller_id=push.seller_id, site=push.site)
    return results


def _job_for(push: LazadaPush, sync_delay: float) -> JobCall | None:
    """What a push calls for once it is stored and routed (the statement adds the account)."""
    if push.message_type in SYNC_TYPES and push.order_id is not None:
        # The account's sync reads the order from the inbox; its key is the account's alone,
        # so a burst of any size waits as one job.
        return JobCall(SYNC_ACCOUNT, delay=sync_delay)
    if push.message_type == TOKEN_EXPIRING:
        return JobCall(REFRESH_TOKEN)
    return None
