from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api_keys.schemas import Scope
from app.auth import require_scope
from app.db import SessionDep
from app.external_events.schemas import WebhookEvent
from app.external_events.service import EventNotFound, EventNotReplayable
from app.external_events.service import external_event as external_event_service
from app.kit.pagination import (
    MAX_BIGINT,
    InvalidCursor,
    Page,
    cursor_id,
    decode_cursor,
    encode_cursor,
)
from app.models import EventState

router = APIRouter(prefix="/webhook-events", tags=["webhook events"])

EventId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]


@router.get(
    "",
    response_model=Page[WebhookEvent],
    summary="List received pushes, newest first",
    dependencies=[require_scope(Scope.events_read)],
    responses={400: InvalidCursor.schema()},
)
async def list_events(
    session: SessionDep,
    state: EventState | None = Query(default=None),
    account_id: uuid.UUID | None = Query(default=None),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=200),
) -> Page[WebhookEvent]:
    after_id = None
    if cursor:
        (value,) = decode_cursor(cursor, length=1)
        after_id = cursor_id(value)
    events = await external_event_service.list(
        session, state=state, account_id=account_id, after_id=after_id, limit=limit
    )
    next_cursor = encode_cursor([events[-1].id]) if len(events) == limit else None
    return Page[WebhookEvent](
        items=[WebhookEvent.model_validate(e) for e in events], next_cursor=next_cursor
    )


@router.get(
    "/{event_id}",
    response_model=WebhookEvent,
    summary="Get one received push",
    dependencies=[require_scope(Scope.events_read)],
    responses={404: EventNotFound.schema()},
)
async def get_event(event_id: EventId, session: SessionDep) -> WebhookEvent:
    return WebhookEvent.model_validate(await external_event_service.get(session, event_id))


@router.post(
    "/{event_id}/replay",
    status_code=202,
    response_model=WebhookEvent,
    summary="Run a failed (or unroutable) push's work again",
    dependencies=[require_scope(Scope.events_replay)],
    responses={
        404: EventNotFound.schema(),
        409: EventNotReplayable.schema(),
    },
)
async def replay_event(event_id: EventId, session: SessionDep) -> WebhookEvent:
    return WebhookEvent.model_validate(await external_event_service.replay(session, event_id))
