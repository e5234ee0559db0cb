"""Bulk seeding and the GetOrders offset cap knob, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from .lazada_support import Sandbox

SELLER = "200549968600"


async def test_bulk_orders_are_spread_over_the_range_and_never_pushed(sandbox: Sandbox) -> None:
    token = (await sandbox.seller(SELLER))["access_token"]
    created = await sandbox.admin(
        "POST",
        "/orders/bulk",
        {
            "seller_id": SELLER,
            "count": 120,
            "items_per_order": 2,
            "created_at_from": "2024-01-01T00:00:00Z",
            "created_at_to": "2024-01-01T01:59:00Z",
        },
    )
    assert created["created"] == 120
    assert len(set(created["order_ids"])) == 120
    assert await sandbox.admin("GET", "/pushes") == []

    window = {"update_after": "2024-01-01T00:00:00+00:00", "sort_by": "updated_at"}
    body = await sandbox.call(
        "/orders/get", {**window, "sort_direction": "ASC", "limit": "100"}, access_token=token
    )
    assert body["data"]["countTotal"] == 120
    orders = body["data"]["orders"]
    assert orders[0]["order_id"] == str(created["order_ids"][0])
    assert orders[0]["items_count"] == 2
    # Evenly spread: 119 steps of one minute, first and last exactly at the bounds.
    last = await sandbox.admin("GET", f"/orders/{created['order_ids'][-1]}")
    stamp = datetime.strptime(last["order"]["created_at"], "%Y-%m-%d %H:%M:%S %z")
    assert stamp == datetime(2024, 1, 1, 1, 59, tzinfo=UTC)

    refused = await sandbox.http.post(
        "/_sandbox/orders/bulk", json={"seller_id": "nobody", "count": 1}
    )
    assert refused.status_code == 404


async def test_offset_cap_knob(sandbox: Sandbox) -> None:
    token = (await sandbox.seller(SELLER))["access_token"]
    await sandbox.admin("POST", "/orders/bulk", {"seller_id": SELLER, "count": 5})
    window = {"update_after": "2020-01-01T00:00:00+00:00", "limit": "2"}
    default_cap = await sandbox.call(
        "/orders/get", {**window, "offset": "4500"}, access_token=token
    )
    assert default_cap["code"] == "0"
    over = await sandbox.call("/orders/get", {**window, "offset": "4501"}, access_token=token)
    assert over["code"] == "14"

    faults = await sandbox.admin("PUT", "/faults", {"max_offset": 3})
    assert faults["max_offset"] == 3
    at_cap = await sandbox.call("/orders/get", {**window, "offset": "3"}, access_token=token)
    assert at_cap["data"]["count"] == 2
    past_cap = await sandbox.call("/orders/get", {**window, "offset": "4"}, access_token=token)
    assert past_cap["code"] == "14"
    await sandbox.admin("POST", "/reset")
    assert (await sandbox.admin("GET", "/faults"))["max_offset"] == 4500
