"""``ingest_many``: one transaction for a batch of pushes of every kind, against a real Postgres."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction
from app.integrations.lazada.push import parse_push
from app.integrations.lazada.service import IngestResult, Received, ingest_many
from app.models import EventState
from tests.helpers import connect_seller, trade_push


def _received(body: bytes) -> Received:
    return Received(parse_push(body), body, request_id="batch-test")


async def _ingest(
    sessionmaker: async_sessionmaker[AsyncSession], bodies: list[bytes]
) -> list[IngestResult]:
    async with transaction(sessionmaker) as session:
        return await ingest_many(session, [_received(body) for body in bodies])


async def test_mixed_batch_gets_one_answer_per_push_in_order(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await connect_seller(api, sandbox)
    stored_before = trade_push(order_id="81", line_id="810")
    await _ingest(sessionmaker, [stored_before])
    token_alert = orjson.dumps(
        {
            "seller_id": "null",
            "message_type": 8,
            "data": {"app_key": "1", "auth_expiry_time": 1, "seller_id": "200549968600"},
            "timestamp": 1,
            "site": "lazada_vn",
        }
    )
    other_type = orjson.dumps(
        {
            "seller_id": "200549968600",
            "message_type": 3,
            "data": {"item_id": 1},
            "site": "lazada_vn",
        }
    )
    line_a, line_b, line_c = (trade_push(order_id="82", line_id=f"82{n}") for n in range(3))
    batch = [
        line_a,
        stored_before,  # stored by an earlier transaction
        line_b,
        trade_push(seller_id="999", order_id="83"),  # nobody we know
        line_a,  # repeated within the batch
        token_alert,
        other_type,
        line_c,
    ]
    results = await _ingest(sessionmaker, batch)
    assert [(r.duplicate, r.state) for r in results] == [
        (False, EventState.pending),
        (True, None),
        (False, EventState.pending),
        (False, EventState.unroutable),
        (True, None),
        (False, EventState.pending),
        (False, EventState.ignored),
        (False, EventState.pending),
    ]
    ids = [r.event_id for r in results if r.event_id is not None]
    assert ids == sorted(ids), "inbox ids follow the batch's order"
    async with sessionmaker() as session:
        jobs = (
            await session.execute(
                text(
                    "SELECT entrypoint, payload, headers->>'request_id' FROM pgqueuer "
                    "ORDER BY entrypoint, id"
                )
            )
        ).all()
    # Order 81's sync from the first transaction, one sync for order 82's three lines, one refresh.
    assert [(job[0], orjson.loads(job[1]).get("order_id")) for job in jobs] == [
        ("lazada.order.sync", "81"),
        ("lazada.order.sync", "82"),
        ("lazada.token.refresh", None),
    ]
    assert {job[2] for job in jobs} == {"batch-test"}
    async with sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM external_events")) == 7


async def test_empty_batch_stores_nothing(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    assert await _ingest(sessionmaker, []) == []
