"""The fault suite: a storm of a few thousand pushes while the sandbox injects 5xx, timeouts,
throttling and expired tokens, pushes arrive twice and out of order, and a worker is killed
mid-job. At the end every stored item status equals the sandbox's, and the counts are printed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.server import BackgroundServer
from tests.fixtures.services import (
    API_TOKEN,
    APP_KEY,
    APP_SECRET,
    WorkerHarness,
    make_settings,
    wait_for,
)
from tests.helpers import connect_seller, scalar

SELLER = "200549968600"
ORDERS = 120
ITEMS = 3


async def _gather_limited(calls: list[Any], limit: int = 8) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(call: Any) -> Any:
        async with gate:
            return await call

    return await asyncio.gather(*(run(c) for c in calls))


async def _create(sandbox: httpx.AsyncClient) -> dict[str, Any]:
    response = await sandbox.post(
        "/_sandbox/orders",
        json={"seller_id": SELLER, "items": [{"sku": f"S{i}"} for i in range(ITEMS)]},
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def _move(sandbox: httpx.AsyncClient, order_id: int, status: str, items: list[int]) -> Any:
    response = await sandbox.post(
        f"/_sandbox/orders/{order_id}/status", json={"status": status, "item_ids": items}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _stored(api: httpx.AsyncClient, account_id: str) -> dict[str, dict[str, str]]:
    stored: dict[str, dict[str, str]] = {}
    cursor = None
    while True:
        params: dict[str, Any] = {"account_id": account_id, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/orders", params=params)).json()
        for order in page["items"]:
            stored[order["order_id"]] = {i["order_item_id"]: i["status"] for i in order["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            return stored


@pytest.mark.usefixtures("clean_db")
async def test_push_storm_under_faults_converges_to_the_truth(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sandbox_server: BackgroundServer,
    shoplazza_server: BackgroundServer,
    newegg_server: BackgroundServer,
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(
        sandbox_server.url,
        shoplazza_server.url,
        newegg_server.url,
        sync_max_attempts=30,
        http_timeout=1.0,
        retry_base_delay=0.05,
        retry_max_delay=0.5,
        worker_concurrency=6,
        sweep_age=5.0,
    )
    account = (await connect_seller(api, sandbox))["account"]
    await sandbox.put("/_sandbox/faults", json={"duplicate_pushes": True, "reverse_pushes": True})
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LAZADA_APP_KEY": APP_KEY,
        "LAZADA_APP_SECRET": APP_SECRET,
        "LAZADA_API_BASE": f"{sandbox_server.url}/rest",
        "LAZADA_AUTH_BASE": f"{sandbox_server.url}/rest",
        "ORDERSYNC_API_TOKENS": API_TOKEN,
        "ORDERSYNC_JOB_HEARTBEAT_TIMEOUT": "2",
        "ORDERSYNC_SYNC_MAX_ATTEMPTS": "30",
        "ORDERSYNC_RETRY_BASE_DELAY": "0.05",
        "ORDERSYNC_RETRY_MAX_DELAY": "0.5",
        "ORDERSYNC_HTTP_TIMEOUT": "1",
    }
    for name in ("ORDERSYNC_ENCRYPTION_KEYS",):
        if name in os.environ or getattr(settings, "encryption_keys", None):
            env[name] = ",".join(
                k.get_secret_value() for k in getattr(settings, "encryption_keys", [])
            )
    victim = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from app.cli import main; main()",
        "worker",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    worker = WorkerHarness(settings, database_url, sessionmaker)
    await worker.start()
    try:
        # Wave 1: new orders, while the sandbox fails one call in ten.
        await sandbox.put("/_sandbox/faults", json={"error_rate": 0.1})
        created = await _gather_limited([_create(sandbox) for _ in range(ORDERS)])

        async def some_synced() -> bool:
            return bool(await scalar(sessionmaker, "SELECT count(*) FROM orders") >= 20)

        await wait_for(some_synced, within=60, what="a first batch of orders to sync")
        victim.send_signal(signal.SIGKILL)  # mid-job, most likely: it was busy
        await victim.wait()

        # Wave 2: statuses move; tokens expire; throttling; then a spell of timeouts.
        await sandbox.put(
            "/_sandbox/faults",
            json={"expire_access_tokens": True, "throttle_next": 25, "error_rate": 0.1},
        )
        moves = []
        for order in created:
            order_id = order["order"]["order_id"]
            ids = [item["order_item_id"] for item in order["items"]]
            moves.append(_move(sandbox, order_id, "packed", ids))
        await _gather_limited(moves)
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 1500})
        calls_before = (await sandbox.get("/_sandbox/calls")).json()["total"]

        async def timing_out() -> bool:
            total = (await sandbox.get("/_sandbox/calls")).json()["total"]
            return bool(total >= calls_before + 10)

        await wait_for(timing_out, within=60, what="calls to time out")
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 0})
        moves = []
        for index, order in enumerate(created):
            order_id = order["order"]["order_id"]
            ids = [item["order_item_id"] for item in order["items"]]
            status = ("ready_to_ship", "canceled", "packed")[index % 3]
            moves.append(_move(sandbox, order_id, status, ids[: 1 + index % ITEMS]))
        await _gather_limited(moves)
        await sandbox.put("/_sandbox/faults", json={"error_rate": 0.0})

        async def settled() -> bool:
            pending = await scalar(
                sessionmaker,
                "SELECT count(*) FROM external_events WHERE state NOT IN ('processed', 'ignored')",
            )
            jobs = await scalar(
                sessionmaker, "SELECT count(*) FROM pgqueuer WHERE status IN ('queued', 'picked')"
            )
            return bool(pending == 0 and jobs == 0)

        await wait_for(settled, within=240, what="every push to be handled")

        truth = {}
        for order in created:
            order_id = order["order"]["order_id"]
            found = (await sandbox.get(f"/_sandbox/orders/{order_id}")).json()
            truth[str(order_id)] = {str(i["order_item_id"]): i["status"] for i in found["items"]}
        stored = await _stored(api, account["id"])
        assert stored == truth

        pushes = (await sandbox.get("/_sandbox/pushes")).json()
        calls = (await sandbox.get("/_sandbox/calls")).json()
        events = await scalar(sessionmaker, "SELECT count(*) FROM external_events")
        failed = await scalar(
            sessionmaker, "SELECT count(*) FROM external_events WHERE state = 'failed'"
        )
        assert failed == 0
        assert all(p["status_code"] == 200 for p in pushes)
        failed_calls = calls["total"] - sum(calls["ok_by_api"].values())
        with capsys.disabled():
            sys.stdout.write(
                f"\nfault storm: {len(pushes)} pushes sent and acked, {events} stored "
                f"({len(pushes) - events} duplicates), {len(truth)} orders / "
                f"{sum(len(v) for v in truth.values())} items equal to the sandbox; "
                f"{calls['total']} Lazada calls ({failed_calls} failed by injection), "
                f"{calls['by_api'].get('/auth/token/refresh', 0)} token "
                "refreshes\n"
            )
    finally:
        if victim.returncode is None:
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
        await worker.stop()
