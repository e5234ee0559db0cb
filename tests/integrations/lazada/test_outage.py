"""Intake survives a Postgres outage: the embedded Postgres is stopped and restarted while
signed pushes keep arriving; every acknowledged push ends up stored and synced exactly once."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import (
    create_engine,
    create_sessionmaker,
    database_unavailable,
    start_embedded_postgres,
    stop_embedded_postgres,
    value_refused,
)
from app.kit.server import BackgroundServer
from app.main import create_app
from app.migrate import upgrade
from tests.fixtures.services import API_TOKEN, WorkerHarness, make_settings, wait_for
from tests.helpers import scalar, signed_headers, trade_push

SELLER = "200549968600"


@dataclass
class Postgres:
    """A private embedded Postgres that this test may stop and start."""

    url: str
    server: Any

    def stop(self) -> None:
        pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()


@pytest.fixture
async def postgres() -> AsyncIterator[Postgres]:
    import pgserver

    with tempfile.TemporaryDirectory(prefix="ordersync-outage-", ignore_cleanup_errors=True) as tmp:
        url = await asyncio.to_thread(start_embedded_postgres, Path(tmp), cleanup="delete")
        try:
            await asyncio.to_thread(upgrade, url)
            server = pgserver.get_server((Path(tmp) / "pgdata").resolve())  # type: ignore[attr-defined]
            yield Postgres(url, server)
        finally:
            await asyncio.to_thread(stop_embedded_postgres, Path(tmp))


@dataclass
class Sent:
    body: bytes
    status: int
    ack: str
    seconds: float


@dataclass
class Pusher:
    client: httpx.AsyncClient
    sent: list[Sent] = field(default_factory=list)

    async def push(self, body: bytes) -> None:
        started = time.perf_counter()
        response = await self.client.post(
            "/webhooks/lazada", content=body, headers=signed_headers(body)
        )
        ack = response.json().get("status", "") if response.status_code == 200 else ""
        self.sent.append(Sent(body, response.status_code, ack, time.perf_counter() - started))

    async def push_all(self, bodies: list[bytes]) -> None:
        for body in bodies:
            await self.push(body)


async def test_pushes_during_a_database_outage_are_spooled_and_nothing_is_lost(
    postgres: Postgres, sandbox_server: BackgroundServer, sandbox: httpx.AsyncClient
) -> None:
    settings = make_settings(sandbox_server.url, spool_dir=tempfile.mkdtemp(prefix="spool-"))
    engine = create_engine(postgres.url, process_name="outage-test", pool_size=5)
    sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
    server = BackgroundServer(create_app(settings, postgres.url))
    await server.start()
    worker = WorkerHarness(settings, postgres.url, sessionmaker)
    try:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as api:
            seller = (
                await sandbox.post("/_sandbox/sellers", json={"seller_id": SELLER, "country": "vn"})
            ).json()
            created = await api.post(
                "/v1/accounts",
                json={
                    "marketplace": "lazada",
                    "seller_id": SELLER,
                    "country": "vn",
                    "access_token": seller["access_token"],
                    "refresh_token": seller["refresh_token"],
                },
            )
            assert created.status_code == 201
            account_id = created.json()["id"]
            orders = []
            for _ in range(30):
                order = (
                    await sandbox.post(
                        "/_sandbox/orders",
                        json={
                            "seller_id": SELLER,
                            "items": [{"sku": "A"}, {"sku": "B"}],
                            "push": False,
                        },
                    )
                ).json()
                orders.append(order)
            bodies = [
                trade_push(order_id=str(o["order"]["order_id"]), line_id=str(item["order_item_id"]))
                for o in orders
                for item in o["items"]
            ]
            pusher = Pusher(api)

            await pusher.push_all(bodies[:20])  # database up
            await asyncio.to_thread(postgres.stop)
            await pusher.push_all(bodies[20:40])  # database down: spooled
            ready = (await api.get("/readyz")).json()
            assert ready["status"] == "degraded"
            assert ready["database"] == "down"
            assert ready["spool_depth"] == 20
            # Pushes keep arriving while Postgres starts again, and Lazada repeats a few.
            restart = asyncio.create_task(asyncio.to_thread(postgres.start))
            await pusher.push_all(bodies[40:] + bodies[20:25])
            await restart

            acks = [s for s in pusher.sent]
            assert [s.status for s in acks] == [200] * len(acks)
            assert {s.ack for s in acks[20:40]} == {"spooled"}
            assert max(s.seconds for s in acks) < 0.5

            async def drained() -> bool:
                ready = (await api.get("/readyz")).json()
                return bool(ready["status"] == "ready")

            await wait_for(drained, within=30, what="the spool to drain")
            stored = await scalar(sessionmaker, "SELECT count(*) FROM external_events")
            assert stored == len(bodies)  # every push once; the repeats were deduplicated

            await worker.start()

            async def synced() -> bool:
                pending = await scalar(
                    sessionmaker,
                    "SELECT count(*) FROM external_events WHERE state <> 'processed'",
                )
                return bool(pending == 0)

            await wait_for(synced, within=30, what="every push to be processed")
            items = await scalar(sessionmaker, "SELECT count(*) FROM order_items")
            assert items == len(bodies)
            calls = (await sandbox.get("/_sandbox/calls")).json()["by_api"]
            # The 30 orders were due together (those drained last a moment later): synced in
            # a batch or two, their items 50 orders a call, their headers (all new) from a
            # GetOrders page; no order fetched on its own, as 60 calls would have.
            assert set(calls) == {"/orders/items/get", "/orders/get"}
            assert sum(calls.values()) <= 4
            stored_orders = (
                await api.get("/v1/orders", params={"account_id": account_id, "limit": 100})
            ).json()["items"]
            assert len(stored_orders) == len(orders)
    finally:
        await worker.stop()
        await server.stop()
        await engine.dispose()


@pytest.mark.parametrize(
    ("error", "down"),
    [
        # Raised by the statements that go straight to asyncpg, unwrapped by SQLAlchemy.
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (asyncpg.AdminShutdownError("terminating connection"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        # A push the database refuses is that push's problem, not an outage.
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (asyncpg.DeadlockDetectedError("deadlock detected"), False),
        (ValueError("bad push"), False),
    ],
)
def test_what_counts_as_the_database_being_down(error: Exception, down: bool) -> None:
    assert database_unavailable(error) is down


class _ServerError(Exception):
    """How SQLAlchemy's asyncpg adapter hands on some server errors: a generic class that
    carries the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "down", "refused"),
    [
        ("57P03", True, False),  # not yet accepting connections: replaying WAL after a crash
        ("57P01", True, False),  # terminating connection due to administrator command
        ("08006", True, False),  # connection failure
        ("53300", True, False),  # too many connections
        ("58030", True, False),  # I/O error
        ("22P05", False, True),  # untranslatable character: the value's fault
        ("23505", False, True),  # unique violation
        ("40P01", False, False),  # deadlock: neither; the intake stores the batch push by push
    ],
)
def test_server_errors_are_told_apart_by_sqlstate(sqlstate: str, down: bool, refused: bool) -> None:
    wrapped = DBAPIError("INSERT ...", {}, _ServerError(sqlstate))
    assert database_unavailable(wrapped) is down
    assert value_refused(wrapped) is refused
