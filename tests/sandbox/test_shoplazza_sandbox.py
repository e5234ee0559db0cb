"""The Shoplazza sandbox over real HTTP: order reads, cancel rules, auth, scopes, validation,
rate limit, fault knobs, call counters and the control API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.fixtures.services import wait_for

from .shoplazza_support import API, OTHER_SHOP, SHOP, ShoplazzaSandbox

# --- reads ----------------------------------------------------------------------------------


async def test_get_order_is_wrapped_and_shaped_like_the_doc(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order(line_items=[{"sku": "A", "price": "12.50", "quantity": 2}])
    assert created["id"] == "633130-00000001"
    response = await shoplazza.get(f"/orders/{created['id']}", token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    order = response.json()["order"]
    assert order["id"] == created["id"]
    assert order["number"] == "1001"
    assert (order["status"], order["financial_status"], order["fulfillment_status"]) == (
        "opened",
        "waiting",
        "initialled",
    )
    assert order["canceled_at"] is None
    assert order["cancel_reason"] is None
    assert order["total_price"] == "25.00"
    assert order["currency"] == "USD"
    assert order["created_at"].endswith("Z")
    assert [(i["sku"], i["quantity"], i["price"]) for i in order["line_items"]] == [
        ("A", 2, "12.50")
    ]


async def test_list_count_and_get_by_number(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    await shoplazza.shop(OTHER_SHOP)
    ids = [(await shoplazza.order(financial_status=fs))["id"] for fs in ("paid", "waiting", "paid")]
    await shoplazza.order(OTHER_SHOP)
    listed = (await shoplazza.get("/orders", token)).json()
    assert [o["id"] for o in listed["orders"]] == ids[::-1]  # newest first, own shop only
    assert listed["count"] == 3
    placed = (await shoplazza.get("/orders", token, params={"status": "placed"})).json()
    assert {o["id"] for o in placed["orders"]} == {ids[0], ids[2]}
    page = (await shoplazza.get("/orders", token, params={"limit": 1, "page": 2})).json()
    assert [o["id"] for o in page["orders"]] == [ids[1]]
    assert page["count"] == 3
    count = await shoplazza.get("/orders/count", token, params={"financial_status": "waiting"})
    assert count.json() == {"count": 1}
    by_number = await shoplazza.get("/orders/number/1002", token)
    assert by_number.json()["order"]["id"] == ids[1]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"limit": 251}, "limit", "must be less than or equal to 250"),
        ({"page": 0}, "page", "must be greater than or equal to 1"),
        ({"status": "done"}, "status", "is not included in the list"),
        ({"created_at_min": "yesterday"}, "created_at_min", "is invalid"),
    ],
)
async def test_bad_list_parameters_are_422_keyed_by_field(
    shoplazza: ShoplazzaSandbox, params: dict[str, Any], field: str, message: str
) -> None:
    token = await shoplazza.shop()
    response = await shoplazza.get("/orders", token, params=params)
    assert response.status_code == 422
    assert response.json() == {"errors": {field: [message]}}


async def test_unknown_and_foreign_orders_are_404(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    await shoplazza.shop(OTHER_SHOP)
    foreign = await shoplazza.order(OTHER_SHOP)
    for order_id in ("633130-99999999", foreign["id"]):
        for response in (
            await shoplazza.get(f"/orders/{order_id}", token),
            await shoplazza.cancel(order_id, token, {"reason": "x"}),
        ):
            assert response.status_code == 404
            assert response.json() == {"errors": ["Unable to find resource"]}
    assert (await shoplazza.truth(foreign["id"]))["status"] == "opened"
    other_version = await shoplazza.http.get("/openapi/2025-06/orders", headers={})
    assert other_version.status_code == 404
    assert other_version.json() == {"errors": ["Unable to find resource"]}


# --- cancel ---------------------------------------------------------------------------------


async def test_cancel_unpaid_order(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    response = await shoplazza.cancel(created["id"], token, {"reason": "Customer changed mind"})
    assert response.status_code == 200
    order = response.json()["order"]
    assert order["status"] == "cancelled"
    assert order["financial_status"] == "cancelled"
    assert order["fulfillment_status"] == "cancelled"
    assert order["cancel_reason"] == "Customer changed mind"
    assert order["canceled_at"] is not None
    assert order["updated_at"] > created["updated_at"]
    assert await shoplazza.truth(created["id"]) == order


async def test_cancel_paid_order_finishes_it_with_a_refund(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order(financial_status="paid")
    assert (created["status"], created["fulfillment_status"]) == ("placed", "waiting")
    order = (await shoplazza.cancel(created["id"], token, {"reason": "oos"})).json()["order"]
    assert order["status"] == "finished"  # "a paid order may move to finished, not cancelled"
    assert order["financial_status"] == "refunded"
    assert order["total_refund_price"] == order["total_price"] == "10.00"
    assert order["canceled_at"] is not None
    assert order["cancel_reason"] == "oos"


@pytest.mark.parametrize("body", [None, {}, {"reason": None}, {"other": 1}])
async def test_reason_is_optional(shoplazza: ShoplazzaSandbox, body: Any) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    response = await shoplazza.cancel(created["id"], token, body)
    assert response.status_code == 200, response.text
    assert response.json()["order"]["cancel_reason"] == ""


@pytest.mark.parametrize(
    "state",
    [
        {"status": "cancelled"},
        {"status": "finished", "financial_status": "paid"},
        {"financial_status": "paid", "fulfillment_status": "shipped"},
        {"financial_status": "paid", "fulfillment_status": "partially_shipped"},
        {"financial_status": "paid", "fulfillment_status": "finished"},
    ],
)
async def test_wrong_state_is_406(shoplazza: ShoplazzaSandbox, state: dict[str, str]) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order(**state)
    response = await shoplazza.cancel(created["id"], token, {"reason": "x"})
    assert response.status_code == 406
    errors = response.json()["errors"]
    assert isinstance(errors, list)
    assert created["id"] in errors[0]
    assert await shoplazza.truth(created["id"]) == created


async def test_second_cancel_is_406(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    assert (await shoplazza.cancel(created["id"], token)).status_code == 200
    again = await shoplazza.cancel(created["id"], token, {"reason": "again"})
    assert again.status_code == 406
    assert (await shoplazza.truth(created["id"]))["cancel_reason"] == ""


async def test_concurrent_cancels_apply_once(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    responses = await asyncio.gather(*(shoplazza.cancel(created["id"], token) for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [200, 406, 406, 406]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b'{"reason": 42}', "application/json", 422, "reason must be a string"),
        (b'{"reason": ["a"]}', "application/json", 422, "reason must be a string"),
        (b'["reason"]', "application/json", 422, "Request body must be a JSON object"),
        (
            b'{"reason": "' + b"x" * 256 + b'"}',
            "application/json",
            422,
            "reason is too long (maximum is 255 characters)",
        ),
        (b'{"reason": ', "application/json", 400, "Request body is not valid JSON"),
        (b"reason=x", "application/x-www-form-urlencoded", 400, "Content-Type must be"),
    ],
)
async def test_invalid_bodies(
    shoplazza: ShoplazzaSandbox, content: bytes, content_type: str, status: int, message: str
) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    response = await shoplazza.http.post(
        f"{API}/orders/{created['id']}/cancel",
        content=content,
        headers={"Access-Token": token, "Content-Type": content_type},
    )
    assert response.status_code == status
    (error,) = response.json()["errors"]
    assert error.startswith(message)
    assert (await shoplazza.truth(created["id"]))["status"] == "opened"
    exactly_max = await shoplazza.cancel(created["id"], token, {"reason": "y" * 255})
    assert exactly_max.status_code == 200


# --- auth and scopes ------------------------------------------------------------------------


async def test_missing_or_invalid_token_is_401(shoplazza: ShoplazzaSandbox) -> None:
    await shoplazza.shop()
    created = await shoplazza.order()
    for token in (None, "not-a-token"):
        response = await shoplazza.cancel(created["id"], token, {"reason": "x"})
        assert response.status_code == 401
        assert isinstance(response.json()["error"], str)
    bearer = await shoplazza.http.get(
        f"{API}/orders/{created['id']}", headers={"Authorization": "Bearer whatever"}
    )
    assert bearer.status_code == 401
    assert (await shoplazza.truth(created["id"]))["status"] == "opened"


async def test_scopes(shoplazza: ShoplazzaSandbox) -> None:
    reader = await shoplazza.shop(scopes=["read_order"])
    created = await shoplazza.order()
    assert (await shoplazza.get(f"/orders/{created['id']}", reader)).status_code == 200
    refused = await shoplazza.cancel(created["id"], reader, {"reason": "x"})
    assert refused.status_code == 403
    assert "write_order" in refused.json()["error"]
    writer = await shoplazza.shop(scopes=["write_order"])  # new token; the old one stops
    assert (await shoplazza.get(f"/orders/{created['id']}", reader)).status_code == 401
    assert (await shoplazza.get(f"/orders/{created['id']}", writer)).status_code == 200
    blind = await shoplazza.shop(OTHER_SHOP, scopes=["read_product"])
    assert (await shoplazza.get("/orders", blind)).status_code == 403
    assert (await shoplazza.cancel(created["id"], writer)).status_code == 200


async def test_explicit_token(shoplazza: ShoplazzaSandbox) -> None:
    assert await shoplazza.shop(access_token="fixed-token") == "fixed-token"
    created = await shoplazza.order()
    assert (await shoplazza.get(f"/orders/{created['id']}", "fixed-token")).status_code == 200
    clash = await shoplazza.http.post(
        "/_sandbox/shops", json={"shop_domain": OTHER_SHOP, "access_token": "fixed-token"}
    )
    assert clash.status_code == 409


# --- rate limit -----------------------------------------------------------------------------


async def test_rate_limit_per_shop(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    other = await shoplazza.shop(OTHER_SHOP)
    created = await shoplazza.order()
    faults = await shoplazza.faults(rate_limit_burst=2, rate_limit_per_s=0.01)
    assert faults["rate_limit"] is True
    for _ in range(2):
        assert (await shoplazza.get(f"/orders/{created['id']}", token)).status_code == 200
    limited = await shoplazza.cancel(created["id"], token, {"reason": "x"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "Exceeded" in limited.json()["error"]
    assert (await shoplazza.truth(created["id"]))["status"] == "opened"
    assert (await shoplazza.get("/orders", other)).status_code == 200  # per shop
    await shoplazza.faults(rate_limit=False)
    assert (await shoplazza.cancel(created["id"], token)).status_code == 200


async def test_default_bucket_allows_a_burst(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    faults = await shoplazza.admin("GET", "/faults")
    assert (faults["rate_limit_per_s"], faults["rate_limit_burst"]) == (2.0, 40)
    responses = [await shoplazza.get("/orders/count", token) for _ in range(20)]
    assert {r.status_code for r in responses} == {200}


# --- fault knobs ----------------------------------------------------------------------------


async def test_fail_next(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    await shoplazza.faults(fail_next=2)
    for _ in range(2):
        failed = await shoplazza.cancel(created["id"], token)
        assert failed.status_code == 500
        assert failed.json() == {"error": "Internal Server Error"}
    assert (await shoplazza.truth(created["id"]))["status"] == "opened"
    await shoplazza.faults(fail_next=1, fail_status=503)
    outage = await shoplazza.get(f"/orders/{created['id']}", token)
    assert outage.status_code == 503
    assert outage.headers["content-type"].startswith("text/html")
    assert (await shoplazza.cancel(created["id"], token)).status_code == 200
    assert (await shoplazza.admin("GET", "/faults"))["fail_next"] == 0


async def test_timeout_before_commit(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    await shoplazza.faults(timeout_next=1)
    with pytest.raises(httpx.ReadTimeout):
        await shoplazza.cancel(created["id"], token, {"reason": "x"}, timeout=0.3)
    assert (await shoplazza.truth(created["id"]))["status"] == "opened"
    assert (await shoplazza.admin("GET", "/faults"))["timeout_next"] == 0
    assert (await shoplazza.cancel(created["id"], token)).status_code == 200


async def test_timeout_after_commit(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    await shoplazza.faults(timeout_next=1, timeout_after_commit=True)
    with pytest.raises(httpx.ReadTimeout):
        await shoplazza.cancel(created["id"], token, {"reason": "x"}, timeout=0.3)
    assert (await shoplazza.truth(created["id"]))["status"] == "cancelled"


async def test_reset_releases_a_hanging_call(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    await shoplazza.faults(timeout_next=1)
    hanging = asyncio.create_task(shoplazza.get(f"/orders/{created['id']}", token))

    async def arrived() -> bool:
        return bool((await shoplazza.admin("GET", "/calls"))["total"])

    await wait_for(arrived, what="the call to reach the sandbox")
    started = time.monotonic()
    await shoplazza.admin("POST", "/reset")
    response = await hanging
    assert time.monotonic() - started < 5
    assert response.status_code == 401  # the reset forgot the shop while the call waited


@pytest.mark.parametrize("mode", ["close", "500"])
async def test_drop_after_commit(shoplazza: ShoplazzaSandbox, mode: str) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    wrong_state = await shoplazza.order(status="cancelled")
    await shoplazza.faults(drop_after_commit_next=1, drop_mode=mode)
    # Calls that commit nothing do not consume the knob.
    assert (await shoplazza.get(f"/orders/{created['id']}", token)).status_code == 200
    assert (await shoplazza.cancel(wrong_state["id"], token)).status_code == 406
    if mode == "close":
        with pytest.raises(httpx.RemoteProtocolError):
            await shoplazza.cancel(created["id"], token, {"reason": "lost"})
    else:
        response = await shoplazza.cancel(created["id"], token, {"reason": "lost"})
        assert response.status_code == 500
        assert "error" in response.json()
    truth = await shoplazza.truth(created["id"])
    assert (truth["status"], truth["cancel_reason"]) == ("cancelled", "lost")
    assert (await shoplazza.cancel(created["id"], token)).status_code == 406
    calls = await shoplazza.admin("GET", "/calls")
    assert calls["by_api"]["POST /orders/{id}/cancel"] == 3
    assert "POST /orders/{id}/cancel" not in calls["ok_by_api"]


async def test_latency(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    await shoplazza.faults(latency_ms=200)
    started = time.monotonic()
    assert (await shoplazza.get("/orders", token)).status_code == 200
    assert time.monotonic() - started >= 0.2


# --- counters and control API ---------------------------------------------------------------


async def test_call_counters(shoplazza: ShoplazzaSandbox) -> None:
    token = await shoplazza.shop()
    created = await shoplazza.order()
    await shoplazza.get(f"/orders/{created['id']}", token)
    await shoplazza.get(f"/orders/{created['id']}", "bad-token")
    await shoplazza.get("/orders", token)
    await shoplazza.cancel(created["id"], token)
    calls = await shoplazza.admin("GET", "/calls")
    assert calls == {
        "total": 4,
        "by_api": {"GET /orders/{id}": 2, "GET /orders": 1, "POST /orders/{id}/cancel": 1},
        "ok_by_api": {"GET /orders/{id}": 1, "GET /orders": 1, "POST /orders/{id}/cancel": 1},
    }
    cleared = await shoplazza.admin("DELETE", "/calls")
    assert cleared == {"total": 0, "by_api": {}, "ok_by_api": {}}


async def test_control_api(shoplazza: ShoplazzaSandbox) -> None:
    await shoplazza.shop()
    pending = await shoplazza.order(financial_status="pending", id="custom-1", number="#77")
    assert (pending["id"], pending["number"], pending["financial_status"]) == (
        "custom-1",
        "#77",
        "waiting",
    )
    dup = await shoplazza.http.post(
        "/_sandbox/orders", json={"shop_domain": SHOP, "id": "custom-1"}
    )
    assert dup.status_code == 409
    unknown = await shoplazza.http.post("/_sandbox/orders", json={"shop_domain": "nope"})
    assert unknown.status_code == 404
    bad = await shoplazza.http.post(
        "/_sandbox/orders", json={"shop_domain": SHOP, "financial_status": "sort-of"}
    )
    assert bad.status_code == 422
    moved = await shoplazza.admin("PATCH", "/orders/custom-1", {"fulfillment_status": "shipped"})
    assert moved["order"]["fulfillment_status"] == "shipped"
    assert (await shoplazza.http.get("/_sandbox/orders/missing")).status_code == 404
    shops = await shoplazza.admin("GET", "/shops")
    assert [s["shop_domain"] for s in shops] == [SHOP]
    await shoplazza.admin("POST", "/reset")
    assert await shoplazza.admin("GET", "/shops") == []
    assert (await shoplazza.http.get("/_sandbox/orders/custom-1")).status_code == 404
