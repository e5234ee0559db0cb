"""Syncs under a backlog: an account with more orders due than the threshold is synced 50 at a
time (GetMultipleOrderItems, and GetOrders for headers of new orders), with every guarantee of
the order-by-order path, and one seller's backlog never holds another seller's push."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction
from app.integrations.base import FetchedItem, FetchedOrder
from app.integrations.lazada.push import parse_push
from app.integrations.lazada.service import Received, ingest_many
from app.orders.service import order as order_service
from tests.fixtures.services import WorkerHarness, wait_for
from tests.helpers import connect_seller, sandbox_calls, scalar, trade_push

SELLER = "200549968600"
OTHER_SELLER = "300600900111"


async def _bulk(
    sandbox: httpx.AsyncClient, seller_id: str, count: int, *, per_second: int = 50
) -> list[bytes]:
    """``count`` one-line orders in the sandbox, not pushed: their pushes, for us to send.
    They were placed over the last seconds, ``per_second`` a second, as a busy seller's are."""
    now = datetime.now(UTC)
    response = await sandbox.post(
        "/_sandbox/orders/bulk",
        json={
            "seller_id": seller_id,
            "count": count,
            "pushes": True,
            "created_at_from": (now - timedelta(seconds=count / per_second)).isoformat(),
            "created_at_to": now.isoformat(),
        },
    )
    assert response.status_code == 200, response.text
    return [body.encode() for body in response.json()["pushes"]]


async def _push(sessionmaker: async_sessionmaker[AsyncSession], bodies: list[bytes]) -> None:
    """Store pushes as the webhook's intake does (its one statement, in batches)."""
    for start in range(0, len(bodies), 256):
        async with transaction(sessionmaker) as session:
            raw = (await (await session.connection()).get_raw_connection()).driver_connection
            await ingest_many(
                raw, [Received(parse_push(body), body) for body in bodies[start : start + 256]]
            )


async def _count(sessionmaker: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> int:
    return int(await scalar(sessionmaker, sql, **params) or 0)


async def _all_processed(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    return (
        await _count(sessionmaker, "SELECT count(*) FROM external_events WHERE state = 'pending'")
        == 0
    )


async def _rows(sessionmaker: async_sessionmaker[AsyncSession], sql: str) -> list[Any]:
    async with sessionmaker() as session:
        return list((await session.execute(text(sql))).all())


def _order_of(body: bytes) -> str:
    return str(parse_push(body).order_id)


class TestBatches:
    async def test_fifty_due_orders_cost_two_calls(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        bodies = await _bulk(sandbox, SELLER, 50)
        await _push(sessionmaker, bodies)
        await worker.start()
        await wait_for(
            lambda: _all_processed(sessionmaker), within=30, what="the batch to be synced"
        )
        assert await _count(sessionmaker, "SELECT count(*) FROM order_items") == 50
        # The window they cover in one GetOrders page; their items in one call.
        assert await sandbox_calls(sandbox) == {"/orders/items/get": 1, "/orders/get": 1}

    async def test_one_unknown_order_fails_alone_and_the_other_49_are_stored(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        bodies = await _bulk(sandbox, SELLER, 49)
        unknown = trade_push(order_id="999000999", line_id="999000991")  # not the seller's
        await _push(sessionmaker, [*bodies[:20], unknown, *bodies[20:]])
        await worker.start()
        await wait_for(lambda: _all_processed(sessionmaker), within=30, what="every push handled")
        assert await _count(sessionmaker, "SELECT count(*) FROM orders") == 49
        ((state, error),) = await _rows(
            sessionmaker,
            "SELECT state, last_error FROM external_events WHERE external_order_id = '999000999'",
        )
        assert state == "failed"
        assert "RemoteNotFound" in error
        calls = await sandbox_calls(sandbox)
        # The window lists the seller's 49 orders; the unknown one is not among them, so it is
        # fetched on its own once the window is read, and fails alone.
        assert calls == {"/orders/get": 1, "/orders/items/get": 1, "/order/get": 1}

    async def test_answers_older_than_what_is_stored_change_nothing(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        bodies = await _bulk(sandbox, SELLER, 10)
        # We already hold a newer report of every item: shipped, an hour from now.
        later = datetime.now(UTC) + timedelta(hours=1)
        async with transaction(sessionmaker) as session:
            for body in bodies:
                push = parse_push(body)
                assert push.order_id is not None
                assert push.line_id is not None
                await order_service.apply_fetched(
                    session,
                    account_id=uuid.UUID(account["id"]),
                    fetched=FetchedOrder(
                        external_order_id=push.order_id,
                        order_number=push.order_id,
                        updated_at=later,
                        price=Decimal("1.00"),
                        items=[FetchedItem(push.line_id, "shipped", later)],
                    ),
                    source="test.newer",
                )
        await _push(sessionmaker, bodies)
        await worker.start()
        await wait_for(lambda: _all_processed(sessionmaker), within=30, what="the batch")
        assert await sandbox_calls(sandbox) == {"/orders/get": 1, "/orders/items/get": 1}
        assert (
            await _count(sessionmaker, "SELECT count(*) FROM order_items WHERE status = 'shipped'")
            == 10
        )
        assert await _count(sessionmaker, "SELECT count(*) FROM order_item_status_changes") == 10
        assert await _count(sessionmaker, "SELECT count(*) FROM orders WHERE price = 1.00") == 10

    async def test_a_push_arriving_during_its_orders_batch_gets_a_follow_up(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
        anonymous: httpx.AsyncClient,
    ) -> None:
        await connect_seller(api, sandbox)
        bodies = await _bulk(sandbox, SELLER, 20)
        await _push(sessionmaker, bodies)
        # Hold the batch's calls while the first order moves on at Lazada, and is pushed.
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 1500})
        await worker.start()

        async def batch_running() -> bool:
            return (await sandbox.get("/_sandbox/calls")).json()["total"] >= 1 or bool(
                await _count(sessionmaker, "SELECT count(*) FROM pgqueuer WHERE status = 'picked'")
            )

        await wait_for(batch_running, within=15, what="the batch to start")
        first = _order_of(bodies[0])
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 0})
        moved = await sandbox.post(
            f"/_sandbox/orders/{first}/status", json={"status": "canceled", "push": True}
        )
        assert moved.status_code == 200, moved.text
        assert [p["status_code"] for p in moved.json()["pushes"]] == [200]

        async def cancel_stored() -> bool:
            return (
                await _count(
                    sessionmaker,
                    "SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id "
                    "WHERE o.external_order_id = :o AND i.status = 'canceled'",
                    o=first,
                )
                == 1
            )

        await wait_for(cancel_stored, within=30, what="the follow-up to store the cancel")
        await wait_for(lambda: _all_processed(sessionmaker), within=30, what="every push")


class TestFairness:
    async def test_one_sellers_backlog_does_not_hold_another_sellers_push(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        other = (await connect_seller(api, sandbox, seller_id=OTHER_SELLER))["account"]
        backlog = await _bulk(sandbox, SELLER, 5000)
        await _push(sessionmaker, backlog)
        single = await _bulk(sandbox, OTHER_SELLER, 1)
        await _push(sessionmaker, single)  # after the whole backlog
        await worker.start()

        async def single_stored() -> bool:
            return bool(
                await _count(
                    sessionmaker,
                    "SELECT count(*) FROM orders WHERE account_id = :a",
                    a=other["id"],
                )
            )

        await wait_for(single_stored, within=60, what="the other seller's order")
        # It did not wait behind the backlog: most of it is still waiting.
        waiting = await _count(
            sessionmaker,
            "SELECT count(*) FROM external_events WHERE state = 'pending' AND seller_id = :s",
            s=SELLER,
        )
        assert waiting >= 2500, waiting
        await wait_for(lambda: _all_processed(sessionmaker), within=240, what="the backlog")
        assert await _count(sessionmaker, "SELECT count(*) FROM order_items") == 5001
        calls = await sandbox_calls(sandbox)
        assert sum(calls.values()) / 5001 <= 0.1, calls
