"""``ingest_many``: one transaction for a batch of pushes of every kind, against a real Postgres."""

from __future__ import annotations

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import driver_connection, transaction
from app.integrations.lazada.push import parse_push
from app.integrations.lazada.service import IngestResult, Received, ingest_many
from app.models import EventState
from tests.helpers import connect_seller, trade_push


def _received(body: bytes) -> Received:
    return Received(parse_push(body), body, request_id="batch-test")


async def _ingest(
    sessionmaker: async_sessionmaker[AsyncSession], bodies: list[bytes], sync_delay: float = 0.0
) -> list[IngestResult]:
    async with transaction(sessionmaker) as session:
        connection = await driver_connection(session)
        received = [_received(body) for body in bodies]
        return await ingest_many(connection, received, sync_delay=sync_delay)


async def _stored(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(inbox rows, jobs)"""
    async with sessionmaker() as session:
        events = await session.scalar(text("SELECT count(*) FROM external_events"))
        jobs = await session.scalar(text("SELECT count(*) FROM pgqueuer"))
    return int(events or 0), int(jobs or 0)


def _token_alert() -> bytes:
    return orjson.dumps(
        {
            "seller_id": "null",
            "message_type": 8,
            "data": {"app_key": "1", "auth_expiry_time": 1, "seller_id": "200549968600"},
            "timestamp": 1,
            "site": "lazada_vn",
        }
    )


async def test_mixed_batch_gets_one_answer_per_push_in_order(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account = (await connect_seller(api, sandbox))["account"]
    stored_before = trade_push(order_id="81", line_id="810")
    await _ingest(sessionmaker, [stored_before])
    token_alert = _token_alert()
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
    # A batch inserts in dedupe-key order (a fixed lock order, so two batches cannot deadlock).
    stored = sorted(
        (parse_push(body).dedupe_key, r.event_id)
        for body, r in zip(batch, results, strict=True)
        if r.event_id is not None
    )
    ids = [event_id for _, event_id in stored]
    assert ids == sorted(ids)
    async with sessionmaker() as session:
        jobs = (
            await session.execute(
                text(
                    "SELECT entrypoint, payload, headers->>'request_id' FROM pgqueuer "
                    "ORDER BY entrypoint, id"
                )
            )
        ).all()
    # The account's sync from the first transaction, which order 82's three lines join, and
    # one refresh.
    assert [(job[0], orjson.loads(job[1])) for job in jobs] == [
        ("lazada.account.sync", {"account_id": account["id"]}),
        ("lazada.token.refresh", {"account_id": account["id"]}),
    ]
    assert {job[2] for job in jobs} == {"batch-test"}
    async with sessionmaker() as session:
        assert await session.scalar(text("SELECT count(*) FROM external_events")) == 7


async def test_empty_batch_stores_nothing(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    assert await _ingest(sessionmaker, []) == []


async def test_outside_a_transaction_the_batch_commits_on_its_own(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The intake runs the batch as one statement with no transaction around it: the inbox
    rows and their jobs commit together, with no BEGIN or COMMIT round trip."""
    await connect_seller(api, sandbox)
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        [result] = await ingest_many(raw, [_received(trade_push(order_id="91"))])
        assert not raw.is_in_transaction()
    assert result.state == EventState.pending
    assert await _stored(sessionmaker) == (1, 1)  # seen from another connection


async def test_inside_a_transaction_the_batch_rolls_back_with_it(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await connect_seller(api, sandbox)
    async with sessionmaker() as session, session.begin():
        connection = await driver_connection(session)
        await ingest_many(connection, [_received(trade_push(order_id="92"))])
        await session.rollback()
    assert await _stored(sessionmaker) == (0, 0)


async def test_a_sync_waits_for_the_delay_and_a_refresh_does_not(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await connect_seller(api, sandbox)
    await _ingest(sessionmaker, [trade_push(order_id="93"), _token_alert()], sync_delay=30.0)
    async with sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT entrypoint, round(extract(epoch FROM execute_after - created))::int "
                "FROM pgqueuer"
            )
        )
        waits = {str(row[0]): int(row[1]) for row in rows}
    assert waits == {"lazada.account.sync": 30, "lazada.token.refresh": 0}
