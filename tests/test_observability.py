"""Metrics, request ids carried into jobs, health endpoints."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.fixtures.services import WorkerHarness, wait_for
from tests.helpers import connect_seller, scalar, signed_headers, trade_push


def _value(metrics: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    return 0.0


async def test_metrics_follow_pushes_and_syncs(
    api: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    worker: WorkerHarness,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await connect_seller(api, sandbox)
    before = (await anonymous.get("/metrics")).text
    order = (
        await sandbox.post(
            "/_sandbox/orders",
            json={"seller_id": "200549968600", "items": [{"sku": "A"}], "push": False},
        )
    ).json()
    body = trade_push(
        order_id=str(order["order"]["order_id"]), line_id=str(order["items"][0]["order_item_id"])
    )
    await anonymous.post("/webhooks/lazada", content=body, headers=signed_headers(body))
    await anonymous.post("/webhooks/lazada", content=body, headers=signed_headers(body))
    await anonymous.post("/webhooks/lazada", content=body, headers={"Authorization": "00"})

    after = (await anonymous.get("/metrics")).text
    for outcome in ("accepted", "duplicate", "rejected_invalid_signature"):
        labels = {"marketplace": "lazada", "outcome": outcome}
        assert _value(after, "ordersync_pushes_total", **labels) == (
            _value(before, "ordersync_pushes_total", **labels) + 1
        )
    assert _value(after, "ordersync_inbox_events", state="pending") == 1
    assert (
        _value(after, "ordersync_queue_jobs", entrypoint="lazada.account.sync", status="queued")
        == 1
    )
    assert _value(after, "ordersync_spool_depth") == 0
    assert _value(after, "ordersync_sync_lag_seconds") >= 0

    calls = {"marketplace": "lazada", "api": "/order/get", "status": "200"}
    await worker.start()

    async def synced() -> bool:
        count = await scalar(sessionmaker, "SELECT count(*) FROM order_items")
        return bool(count == 1)

    await wait_for(synced, what="the order to be synced")
    final = (await anonymous.get("/metrics")).text
    assert _value(final, "ordersync_marketplace_calls_total", **calls) >= (
        _value(before, "ordersync_marketplace_calls_total", **calls) + 1
    )
    assert _value(final, "ordersync_inbox_events", state="processed") == 1


async def test_request_id_is_echoed_and_carried_into_the_job(
    api: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await connect_seller(api, sandbox)
    body = trade_push()
    response = await anonymous.post(
        "/webhooks/lazada",
        content=body,
        headers={**signed_headers(body), "X-Request-ID": "push-7f3a"},
    )
    assert response.headers["x-request-id"] == "push-7f3a"
    carried = await scalar(sessionmaker, "SELECT headers->>'request_id' FROM pgqueuer")
    assert carried == "push-7f3a"
    generated = await anonymous.get("/healthz", headers={"X-Request-ID": "bad id\twith tab"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
