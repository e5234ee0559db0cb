"""Signed pushes to a real webhook receiver, their fault knobs, and cancellation."""

from __future__ import annotations

from typing import Any

import orjson

from app.integrations.lazada.signing import push_signature

from .lazada_support import APP_KEY, APP_SECRET, Receiver, Sandbox

SELLER = "200549968600"


def _statuses(receiver: Receiver) -> list[tuple[str, str]]:
    bodies = [orjson.loads(record.body) for record in receiver.records]
    return [(b["data"]["trade_order_line_id"], b["data"]["order_status"]) for b in bodies]


async def test_order_creation_pushes_one_signed_message_per_line(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    await sandbox.seller(SELLER, country="vn")
    created = await sandbox.order(
        SELLER, items=[{"sku": "A"}, {"sku": "B"}], status="unpaid", push=True
    )
    assert [p["status_code"] for p in created["pushes"]] == [200, 200]
    assert all(p["acked"] and p["error"] is None for p in created["pushes"])
    assert len(receiver.records) == 2  # delivered before the admin call returned

    order = created["order"]
    item_ids = [str(item["order_item_id"]) for item in created["items"]]
    for record, item_id in zip(receiver.records, item_ids, strict=True):
        assert record.headers["authorization"] == push_signature(APP_KEY, APP_SECRET, record.body)
        assert record.headers["content-type"] == "application/json"
        # Compact separators, like Lazada's own bodies.
        assert b", " not in record.body
        assert b": " not in record.body
        body = orjson.loads(record.body)
        assert list(body) == ["seller_id", "message_type", "data", "timestamp", "site"]
        assert body["seller_id"] == SELLER
        assert body["message_type"] == 0
        assert body["site"] == "lazada_vn"
        assert isinstance(body["timestamp"], int)
        assert body["timestamp"] > 10**12  # milliseconds
        data = body["data"]
        assert data["order_status"] == "unpaid"
        assert data["trade_order_id"] == str(order["order_id"])
        assert data["trade_order_line_id"] == item_id
        assert isinstance(data["status_update_time"], int)
        assert isinstance(data["buyer_id"], str)

    deliveries = await sandbox.admin("GET", "/pushes")
    assert [d["raw"].encode() for d in deliveries] == [r.body for r in receiver.records]
    assert {"body", "status_code", "elapsed_ms", "error"} <= set(deliveries[0])


async def test_status_change_pushes_only_moved_items(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.seller(SELLER)
    created = await sandbox.order(SELLER, items=[{"sku": "A"}, {"sku": "B"}])
    first, second = (item["order_item_id"] for item in created["items"])
    moved = await sandbox.admin(
        "POST",
        f"/orders/{created['order']['order_id']}/status",
        {"status": "packed", "item_ids": [first]},
    )
    assert len(moved["pushes"]) == 1
    assert _statuses(receiver) == [(str(first), "packed")]
    assert moved["order"]["statuses"] == ["packed", "pending"]
    truth = await sandbox.admin("GET", f"/orders/{created['order']['order_id']}")
    assert [item["status"] for item in truth["items"]] == ["packed", "pending"]
    assert truth["items"][1]["order_item_id"] == second


async def test_duplicate_and_reverse_push_knobs(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.seller(SELLER)
    created = await sandbox.order(SELLER, items=[{"sku": "A"}, {"sku": "B"}])
    first, second = (str(item["order_item_id"]) for item in created["items"])
    await sandbox.admin("PUT", "/faults", {"duplicate_pushes": True, "reverse_pushes": True})
    moved = await sandbox.admin(
        "POST", f"/orders/{created['order']['order_id']}/status", {"status": "packed"}
    )
    assert len(moved["pushes"]) == 4
    assert _statuses(receiver) == [
        (second, "packed"),
        (second, "packed"),
        (first, "packed"),
        (first, "packed"),
    ]


async def test_unreachable_webhook_is_recorded_not_raised(sandbox: Sandbox) -> None:
    await sandbox.seller(SELLER)
    await sandbox.admin("PUT", "/config", {"webhook_url": "http://127.0.0.1:9/hook"})
    created = await sandbox.order(SELLER, push=True)
    [push] = created["pushes"]
    assert push["status_code"] is None
    assert push["error"]
    assert push["acked"] is False


async def test_failing_webhook_status_is_recorded(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.seller(SELLER)
    receiver.status_code = 500
    created = await sandbox.order(SELLER, push=True)
    assert created["pushes"][0]["status_code"] == 500
    assert created["pushes"][0]["acked"] is False


async def test_arbitrary_pushes_body_and_raw(sandbox: Sandbox, receiver: Receiver) -> None:
    expiry = {
        "seller_id": "null",
        "message_type": 8,
        "data": {"app_key": APP_KEY, "auth_expiry_time": 1700000000, "seller_id": SELLER},
        "timestamp": 1700000000,
        "site": "lazada_sg",
    }
    sent = await sandbox.admin("POST", "/pushes", {"body": expiry})
    assert sent["pushes"][0]["status_code"] == 200
    raw = '{"seller_id":"1", "message_type":3}'  # spaces kept: signed byte for byte
    await sandbox.admin("POST", "/pushes", {"raw": raw})
    assert orjson.loads(receiver.records[0].body) == expiry
    assert receiver.records[1].body == raw.encode()
    for record in receiver.records:
        assert record.headers["authorization"] == push_signature(APP_KEY, APP_SECRET, record.body)


async def test_push_delay_is_awaited(sandbox: Sandbox, receiver: Receiver) -> None:
    await sandbox.seller(SELLER)
    await sandbox.admin("PUT", "/faults", {"push_delay_ms": 100})
    await sandbox.order(SELLER, push=True)
    assert len(receiver.records) == 1


# --- cancellation ------------------------------------------------------------------------------


async def _order_with_package(sandbox: Sandbox) -> tuple[str, dict[str, Any]]:
    token = (await sandbox.seller(SELLER))["access_token"]
    created = await sandbox.order(
        SELLER,
        items=[
            {"sku": "A", "status": "packed", "package_id": "FP100"},
            {"sku": "B", "status": "packed", "package_id": "FP100"},
            {"sku": "C", "status": "packed", "package_id": "FP200"},
            {"sku": "D", "status": "pending"},
        ],
    )
    return token, created


async def test_cancel_validate_reasons_and_errors(sandbox: Sandbox) -> None:
    token, created = await _order_with_package(sandbox)
    order_id = str(created["order"]["order_id"])
    ids = [item["order_item_id"] for item in created["items"]]
    body = await sandbox.call(
        "/order/reverse/cancel/validate",
        {"order_id": order_id, "order_item_id_list": f"[{ids[0]}]"},
        access_token=token,
    )
    assert body["code"] == "0", body
    assert body["data"]["tip_type"] == "warning"
    reasons = {r["reason_id"]: r["reason_name"] for r in body["data"]["reason_options"]}
    assert reasons["10000019"] == "Sourcing Delay"
    assert reasons["10000021"] == "Out of Stock"
    assert reasons["10000023"] == "Wrong Price or Pricing Error"

    my_token = (await sandbox.seller("300000000001", country="my"))["access_token"]
    my_order = await sandbox.order("300000000001")
    my_body = await sandbox.call(
        "/order/reverse/cancel/validate",
        {
            "order_id": str(my_order["order"]["order_id"]),
            "order_item_id_list": f"[{my_order['items'][0]['order_item_id']}]",
        },
        access_token=my_token,
    )
    my_ids = {r["reason_id"] for r in my_body["data"]["reason_options"]}
    assert my_ids.isdisjoint(reasons)

    unknown = await sandbox.call(
        "/order/reverse/cancel/validate",
        {"order_id": "1", "order_item_id_list": "[1]"},
        access_token=token,
    )
    assert unknown["code"] == "122"
    await sandbox.admin(
        "POST", f"/orders/{order_id}/status", {"status": "shipped", "item_ids": [ids[3]]}
    )
    shipped = await sandbox.call(
        "/order/reverse/cancel/validate",
        {"order_id": order_id, "order_item_id_list": f"[{ids[3]}]"},
        access_token=token,
    )
    assert shipped["code"] == "123"
    assert "shipped" in shipped["message"]


async def test_cancel_create_cascades_to_the_package(sandbox: Sandbox, receiver: Receiver) -> None:
    token, created = await _order_with_package(sandbox)
    order_id = str(created["order"]["order_id"])
    a, b, c, d = (item["order_item_id"] for item in created["items"])
    receiver.records.clear()

    bad_reason = await sandbox.call(
        "/order/reverse/cancel/create",
        {"order_id": order_id, "order_item_id_list": f"[{a}]", "reason_id": "999"},
        access_token=token,
    )
    assert bad_reason["code"] == "104"

    body = await sandbox.call(
        "/order/reverse/cancel/create",
        {"order_id": order_id, "order_item_id_list": f"[{a}]", "reason_id": "10000021"},
        access_token=token,
    )
    assert body["code"] == "0", body
    assert body["data"]["tip_type"] == "success"

    truth = await sandbox.admin("GET", f"/orders/{order_id}")
    by_id = {item["order_item_id"]: item for item in truth["items"]}
    assert [by_id[i]["status"] for i in (a, b, c, d)] == [
        "canceled",
        "canceled",
        "packed",
        "pending",
    ]
    assert by_id[b]["cancel_return_initiator"] == "cancellation-seller"
    assert by_id[a]["reason"] == "Out of Stock"
    assert truth["order"]["statuses"] == ["canceled", "packed", "pending"]

    deliveries = await sandbox.admin("GET", "/pushes")  # waits for the background pushes
    assert [d["status_code"] for d in deliveries] == [200, 200]
    assert sorted(_statuses(receiver)) == sorted([(str(a), "canceled"), (str(b), "canceled")])

    # A pending line is cancelled alone; a cancelled one can't be cancelled again.
    single = await sandbox.call(
        "/order/reverse/cancel/create",
        {"order_id": order_id, "order_item_id_list": f"[{d}]", "reason_id": "10000019"},
        access_token=token,
    )
    assert single["code"] == "0"
    assert (await sandbox.admin("GET", f"/orders/{order_id}"))["order"]["statuses"] == [
        "canceled",
        "packed",
    ]
    again = await sandbox.call(
        "/order/reverse/cancel/create",
        {"order_id": order_id, "order_item_id_list": f"[{a}]", "reason_id": "10000019"},
        access_token=token,
    )
    assert again["code"] == "123"
