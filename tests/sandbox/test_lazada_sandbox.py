"""The Lazada sandbox's REST gateway, order APIs, tokens, faults and call counting, over HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from itertools import pairwise
from typing import Any

from lazop_sdk import LazopClient, LazopRequest

from app.integrations.lazada.signing import rest_sign
from app.sandbox.lazada.models import max_in_window

from .lazada_support import APP_KEY, APP_SECRET, Sandbox

SELLER = "200549968600"
OTHER_SELLER = "200549968601"


async def _seeded(sandbox: Sandbox, **order: Any) -> tuple[str, dict[str, Any]]:
    token = (await sandbox.seller(SELLER))["access_token"]
    return token, await sandbox.order(SELLER, **order)


# --- gateway: signature and common parameters ----------------------------------------------


async def test_signed_get_and_post_are_accepted(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    order_id = str(created["order"]["order_id"])
    for method in ("GET", "POST"):
        body = await sandbox.call(
            "/order/get", {"order_id": order_id}, access_token=token, method=method
        )
        assert body["code"] == "0", body
        assert body["data"]["order_id"] == int(order_id)
        assert len(body["request_id"]) >= 16


async def test_lower_case_sign_and_iso_timestamp_are_accepted(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    params = {
        "app_key": APP_KEY,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sign_method": "sha256",
        "access_token": token,
        "order_id": str(created["order"]["order_id"]),
    }
    params["sign"] = rest_sign(APP_SECRET, "/order/get", params).lower()
    body = (await sandbox.raw_call("/order/get", params)).json()
    assert body["code"] == "0", body


async def test_tampered_sign_is_incomplete_signature(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    params = sandbox.signed(
        "/order/get", {"order_id": str(created["order"]["order_id"])}, access_token=token
    )
    params["order_id"] = "1"  # changed after signing
    body = (await sandbox.raw_call("/order/get", params)).json()
    assert body["code"] == "IncompleteSignature"
    assert body["type"] == "ISV"
    assert body["message"] == "The request signature does not conform to lazop standards"
    wrong_secret = await sandbox.call("/order/get", {"order_id": "1"}, secret="not-the-secret")
    assert wrong_secret["code"] == "IncompleteSignature"


async def test_missing_common_parameters(sandbox: Sandbox) -> None:
    for name in ("sign", "app_key", "timestamp"):
        params = sandbox.signed("/order/get", {"order_id": "1"}, access_token="t")
        del params[name]
        body = (await sandbox.raw_call("/order/get", params)).json()
        assert body["code"] == "MissingParameter", body
        assert f'"{name}"' in body["message"]
    # Signed correctly but without a token on a seller API.
    body = await sandbox.call("/order/get", {"order_id": "1"})
    assert body["code"] == "MissingParameter"
    assert '"access_token"' in body["message"]


async def test_bad_app_key_and_stale_timestamp(sandbox: Sandbox) -> None:
    params = sandbox.signed("/order/get", {"order_id": "1"}, access_token="t")
    params["app_key"] = "999999"
    assert (await sandbox.raw_call("/order/get", params)).json()["code"] == "APP_KEY_INVALID"

    stale = {
        "app_key": APP_KEY,
        "timestamp": str(int((time.time() - 7300) * 1000)),
        "sign_method": "sha256",
        "access_token": "t",
    }
    stale["sign"] = rest_sign(APP_SECRET, "/order/get", stale)
    body = (await sandbox.raw_call("/order/get", stale)).json()
    assert body["code"] == "InvalidParameter"
    assert "timestamp" in body["message"]


async def test_unknown_and_expired_access_tokens(sandbox: Sandbox) -> None:
    body = await sandbox.call("/order/get", {"order_id": "1"}, access_token="nope")
    assert body["code"] == "IllegalAccessToken"
    assert body["message"] == "The specified access token is invalid or expired"

    short = await sandbox.seller(OTHER_SELLER, access_token_ttl_s=60)
    created = await sandbox.order(OTHER_SELLER)
    params = {"order_id": str(created["order"]["order_id"])}
    assert (await sandbox.call("/order/get", params, access_token=short["access_token"]))[
        "code"
    ] == "0"
    await sandbox.admin("POST", "/clock", {"advance_s": 61})
    expired = await sandbox.call("/order/get", params, access_token=short["access_token"])
    assert expired["code"] == "IllegalAccessToken"


async def test_expire_access_tokens_knob_is_one_shot(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    params = {"order_id": str(created["order"]["order_id"])}
    faults = await sandbox.admin("PUT", "/faults", {"expire_access_tokens": True})
    assert faults["expired_access_tokens"] == 1
    assert (await sandbox.call("/order/get", params, access_token=token))[
        "code"
    ] == "IllegalAccessToken"
    fresh = (await sandbox.seller(SELLER))["access_token"]  # issued after: unaffected
    assert (await sandbox.call("/order/get", params, access_token=fresh))["code"] == "0"


# --- order APIs ------------------------------------------------------------------------------


async def test_get_order_has_lazadas_mixed_types(sandbox: Sandbox) -> None:
    token, created = await _seeded(
        sandbox,
        items=[{"sku": "A", "item_price": 1000}, {"sku": "B", "item_price": 1000}],
        voucher=5,
        shipping_fee=59.8,
    )
    order_id = created["order"]["order_id"]
    body = await sandbox.call("/order/get", {"order_id": str(order_id)}, access_token=token)
    data = body["data"]
    assert isinstance(data["order_id"], int)
    assert data["order_number"] == order_id
    assert data["price"] == "2000.00"
    assert data["shipping_fee"] == 59.8
    assert data["voucher"] == 5
    assert isinstance(data["voucher"], float)
    assert data["statuses"] == ["pending"]
    assert data["items_count"] == 2
    assert data["extra_attributes"] == '{"TaxInvoiceRequested":false}'
    assert data["created_at"].endswith(" +0800")
    assert time.strptime(data["created_at"], "%Y-%m-%d %H:%M:%S %z")
    shipping = data["address_shipping"]
    for key in ("first_name", "last_name", "phone", "address1", "address5", "city", "post_code"):
        assert isinstance(shipping[key], str)
    assert shipping["country"] == "Singapore"


async def test_iso_date_format_order(sandbox: Sandbox) -> None:
    token = (await sandbox.seller(SELLER, country="vn"))["access_token"]
    created = await sandbox.order(SELLER, date_format="iso")
    body = await sandbox.call(
        "/order/items/get", {"order_id": str(created["order"]["order_id"])}, access_token=token
    )
    assert body["data"][0]["created_at"].endswith("+07:00")
    assert "T" in body["data"][0]["updated_at"]
    assert body["data"][0]["currency"] == "VND"


async def test_get_order_items_one_object_per_unit(sandbox: Sandbox) -> None:
    token, created = await _seeded(
        sandbox, items=[{"sku": "A", "item_price": 12.5, "quantity": 2, "package_id": "FP1"}]
    )
    order_id = created["order"]["order_id"]
    body = await sandbox.call("/order/items/get", {"order_id": str(order_id)}, access_token=token)
    items = body["data"]
    assert len(items) == 2
    assert items[0]["order_item_id"] != items[1]["order_item_id"]
    for item in items:
        assert isinstance(item["order_item_id"], int)
        assert item["order_id"] == str(order_id)
        assert item["item_price"] == 12.5
        assert item["paid_price"] == 12.5
        assert item["status"] == "pending"
        assert item["package_id"] == "FP1"
        assert item["sku"] == "A"
        for key in ("shop_sku", "sku_id", "name", "reason", "cancel_return_initiator"):
            assert isinstance(item[key], str)
        assert item["is_digital"] == 0


async def test_another_sellers_order_is_invalid_order_id(sandbox: Sandbox) -> None:
    await sandbox.seller(SELLER)
    theirs = await sandbox.order(SELLER)
    mine = (await sandbox.seller(OTHER_SELLER))["access_token"]
    for api in ("/order/get", "/order/items/get"):
        body = await sandbox.call(
            api, {"order_id": str(theirs["order"]["order_id"])}, access_token=mine
        )
        assert body["code"] == "16"
        assert body["message"].startswith("E016")


async def test_same_order_id_in_two_stores(sandbox: Sandbox) -> None:
    a = (await sandbox.seller(SELLER))["access_token"]
    b = (await sandbox.seller(OTHER_SELLER))["access_token"]
    await sandbox.order(SELLER, order_id=123456789012345, items=[{"sku": "FROM-A"}])
    await sandbox.order(OTHER_SELLER, order_id=123456789012345, items=[{"sku": "FROM-B"}])
    for token, sku in ((a, "FROM-A"), (b, "FROM-B")):
        body = await sandbox.call(
            "/order/items/get", {"order_id": "123456789012345"}, access_token=token
        )
        assert body["data"][0]["sku"] == sku
    truth = await sandbox.admin("GET", "/orders/123456789012345", seller_id=OTHER_SELLER)
    assert truth["items"][0]["sku"] == "FROM-B"


async def test_get_orders_validates_limit_offset_and_dates(sandbox: Sandbox) -> None:
    token = (await sandbox.seller(SELLER))["access_token"]
    since = {"created_after": "2020-01-01T00:00:00+08:00"}
    cases = [
        ({"limit": "0"}, "19"),
        ({"limit": "101"}, "19"),
        ({"limit": "ten"}, "19"),
        ({"offset": "-1"}, "14"),
        ({"offset": "4501"}, "14"),
        ({"sort_by": "price"}, "75"),
        ({"sort_direction": "UP"}, "74"),
        ({"status": "bogus"}, "36"),
    ]
    for extra, code in cases:
        body = await sandbox.call("/orders/get", {**since, **extra}, access_token=token)
        assert body["code"] == code, (extra, body)
    assert (await sandbox.call("/orders/get", {}, access_token=token))["code"] == "17"
    bad_date = await sandbox.call("/orders/get", {"update_after": "yesterday"}, access_token=token)
    assert bad_date["code"] == "17"
    ok = await sandbox.call(
        "/orders/get", {**since, "limit": "100", "offset": "4500"}, access_token=token
    )
    assert ok["code"] == "0"
    assert ok["data"] == {"countTotal": 0, "count": 0, "orders": []}


async def test_get_orders_update_after_filter_sort_and_paging(sandbox: Sandbox) -> None:
    token = (await sandbox.seller(SELLER))["access_token"]
    old = await sandbox.order(SELLER, created_at="2024-01-01T00:00:00+08:00")
    first = await sandbox.order(SELLER)
    await sandbox.order(SELLER)
    # Ten seconds later, so no other order can share the moved order's updated_at second.
    await sandbox.admin("POST", "/clock", {"advance_s": 10})
    moved = await sandbox.admin(
        "POST", f"/orders/{first['order']['order_id']}/status", {"status": "packed", "push": False}
    )
    cutoff = moved["order"]["updated_at"]  # "YYYY-MM-DD HH:mm:ss +0800" is accepted as a bound
    body = await sandbox.call(
        "/orders/get",
        {"update_after": cutoff, "sort_by": "updated_at", "sort_direction": "ASC"},
        access_token=token,
    )
    ids = [order["order_id"] for order in body["data"]["orders"]]
    assert ids == [str(first["order"]["order_id"])]
    assert body["data"]["countTotal"] == 1

    newest_first = await sandbox.call(
        "/orders/get",
        {"update_after": "2023-12-31T00:00:00+08:00", "sort_by": "updated_at"},
        access_token=token,
    )
    newest = newest_first["data"]["orders"]
    assert newest[0]["order_id"] == str(first["order"]["order_id"])
    assert newest[-1]["order_id"] == str(old["order"]["order_id"])

    window = {"created_after": "2023-12-31T00:00:00+08:00", "sort_direction": "ASC"}
    page1 = await sandbox.call("/orders/get", {**window, "limit": "2"}, access_token=token)
    assert page1["data"]["countTotal"] == 3
    assert page1["data"]["count"] == 2
    assert page1["data"]["orders"][0]["order_id"] == str(old["order"]["order_id"])
    page2 = await sandbox.call("/orders/get", {**window, "offset": "2"}, access_token=token)
    seen = [o["order_id"] for o in page1["data"]["orders"] + page2["data"]["orders"]]
    assert len(set(seen)) == len(seen) == 3
    before = await sandbox.call(
        "/orders/get",
        {**window, "created_before": "2024-06-01T00:00:00+08:00"},
        access_token=token,
    )
    assert [o["order_id"] for o in before["data"]["orders"]] == [str(old["order"]["order_id"])]
    packed = await sandbox.call(
        "/orders/get",
        {"created_after": "2023-12-31T00:00:00+08:00", "status": "packed"},
        access_token=token,
    )
    assert [o["order_id"] for o in packed["data"]["orders"]] == [str(first["order"]["order_id"])]


async def test_get_multiple_order_items(sandbox: Sandbox) -> None:
    token = (await sandbox.seller(SELLER))["access_token"]
    a = (await sandbox.order(SELLER))["order"]["order_id"]
    b = (await sandbox.order(SELLER, items=[{"sku": "X"}, {"sku": "Y"}]))["order"]["order_id"]
    body = await sandbox.call("/orders/items/get", {"order_ids": f"[{a}, {b}]"}, access_token=token)
    assert body["code"] == "0", body
    assert [entry["order_id"] for entry in body["data"]] == [a, b]
    assert [len(entry["order_items"]) for entry in body["data"]] == [1, 2]
    assert body["data"][1]["order_items"][0]["order_id"] == b

    for bad in (f"{a},{b}", "[a,b]", ""):
        result = await sandbox.call("/orders/items/get", {"order_ids": bad}, access_token=token)
        assert result["code"] == "56", (bad, result)
    too_many = "[" + ",".join(str(n) for n in range(1, 52)) + "]"
    result = await sandbox.call("/orders/items/get", {"order_ids": too_many}, access_token=token)
    assert result["code"] == "38"
    result = await sandbox.call("/orders/items/get", {"order_ids": "[1,2]"}, access_token=token)
    assert result["code"] == "39"


async def test_updated_at_advances_a_second_per_change(sandbox: Sandbox) -> None:
    await sandbox.seller(SELLER)
    created = await sandbox.order(SELLER)
    order_id = created["order"]["order_id"]
    stamps = [created["order"]["updated_at"]]
    for status in ("packed", "ready_to_ship", "shipped"):
        moved = await sandbox.admin(
            "POST", f"/orders/{order_id}/status", {"status": status, "push": False}
        )
        stamps.append(moved["order"]["updated_at"])
        assert moved["items"][0]["updated_at"] == moved["order"]["updated_at"]
    parsed = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z").timestamp() for s in stamps]
    assert all(later - earlier >= 1 for earlier, later in pairwise(parsed))
    assert moved["order"]["statuses"] == ["shipped"]
    assert moved["items"][0]["package_id"] == f"FP{order_id}"


# --- tokens ----------------------------------------------------------------------------------


async def test_refresh_rotates_both_tokens(sandbox: Sandbox) -> None:
    seller = await sandbox.seller(SELLER, refresh_token_ttl_s=1000)
    await sandbox.admin("POST", "/clock", {"advance_s": 100})
    body = await sandbox.call("/auth/token/refresh", {"refresh_token": seller["refresh_token"]})
    assert body["code"] == "0", body
    assert "data" not in body
    assert body["access_token"] not in (seller["access_token"], "")
    assert body["refresh_token"] not in (seller["refresh_token"], "")
    assert body["expires_in"] == 7 * 24 * 3600
    assert 895 <= body["refresh_expires_in"] <= 900  # not reset by the refresh
    assert body["account_platform"] == "seller_center"
    assert body["country"] == "sg"
    info = body["country_user_info_list"]
    assert info[0]["seller_id"] == SELLER
    assert set(info[0]) == {"country", "seller_id", "user_id", "short_code"}

    again = await sandbox.call("/auth/token/refresh", {"refresh_token": seller["refresh_token"]})
    assert again["code"] == "IllegalRefreshToken"
    order_id = str((await sandbox.order(SELLER))["order"]["order_id"])
    stale = await sandbox.call(
        "/order/get", {"order_id": order_id}, access_token=seller["access_token"]
    )
    assert stale["code"] == "IllegalAccessToken"
    fresh = await sandbox.call(
        "/order/get", {"order_id": order_id}, access_token=body["access_token"]
    )
    assert fresh["code"] == "0"
    chained = await sandbox.call("/auth/token/refresh", {"refresh_token": body["refresh_token"]})
    assert chained["code"] == "0"


async def test_refuse_refresh_knob(sandbox: Sandbox) -> None:
    seller = await sandbox.seller(SELLER)
    await sandbox.admin("PUT", "/faults", {"refuse_refresh": True})
    body = await sandbox.call("/auth/token/refresh", {"refresh_token": seller["refresh_token"]})
    assert body["code"] == "IllegalRefreshToken"
    await sandbox.admin("PUT", "/faults", {"refuse_refresh": False})
    body = await sandbox.call("/auth/token/refresh", {"refresh_token": seller["refresh_token"]})
    assert body["code"] == "0"


async def test_auth_code_exchange_is_single_use(sandbox: Sandbox) -> None:
    await sandbox.seller(SELLER)
    code = (await sandbox.admin("POST", "/auth_codes", {"seller_id": SELLER}))["code"]
    body = await sandbox.call("/auth/token/create", {"code": code})
    assert body["code"] == "0"
    assert body["country_user_info"][0]["seller_id"] == SELLER
    assert (await sandbox.call("/auth/token/create", {"code": code}))["code"] == "InvalidCode"


# --- faults and counting ---------------------------------------------------------------------


async def test_fail_next_answers_503_without_json(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    params = {"order_id": str(created["order"]["order_id"])}
    await sandbox.admin("PUT", "/faults", {"fail_next": 2})
    for _ in range(2):
        signed = sandbox.signed("/order/get", params, access_token=token)
        response = await sandbox.raw_call("/order/get", signed)
        assert response.status_code == 503
        assert not response.headers["content-type"].startswith("application/json")
    assert (await sandbox.call("/order/get", params, access_token=token))["code"] == "0"
    assert (await sandbox.admin("GET", "/faults"))["fail_next"] == 0


async def test_throttle_next_answers_api_call_limit(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    params = {"order_id": str(created["order"]["order_id"])}
    await sandbox.admin("PUT", "/faults", {"throttle_next": 1})
    body = await sandbox.call("/order/get", params, access_token=token)
    assert body["code"] == "ApiCallLimit"
    assert body["type"] == "ISP"
    assert "frequency exceeds the limit" in body["message"]
    await sandbox.admin("PUT", "/faults", {"throttle_next": 1, "throttle_code": "901"})
    assert (await sandbox.call("/order/get", params, access_token=token))["code"] == "901"
    assert (await sandbox.call("/order/get", params, access_token=token))["code"] == "0"


async def test_error_rate_one_fails_every_call(sandbox: Sandbox) -> None:
    await sandbox.admin("PUT", "/faults", {"error_rate": 1.0})
    signed = sandbox.signed("/order/get", {"order_id": "1"}, access_token="t")
    assert (await sandbox.raw_call("/order/get", signed)).status_code == 503
    await sandbox.admin("PUT", "/faults", {"error_rate": 0.0})
    assert (await sandbox.raw_call("/order/get", signed)).status_code == 200


async def test_latency_knob(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    await sandbox.admin("PUT", "/faults", {"latency_ms": 250})
    started = time.perf_counter()
    body = await sandbox.call(
        "/order/get", {"order_id": str(created["order"]["order_id"])}, access_token=token
    )
    assert body["code"] == "0"
    assert time.perf_counter() - started >= 0.25


async def test_call_counting(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    params = {"order_id": str(created["order"]["order_id"])}
    await sandbox.call("/order/get", params, access_token=token)
    await sandbox.call("/order/get", {"order_id": "1"}, access_token=token)  # error 16
    await sandbox.admin("PUT", "/faults", {"fail_next": 1})
    await sandbox.raw_call("/order/items/get", sandbox.signed("/order/items/get", params))
    calls = await sandbox.admin("GET", "/calls")
    assert calls["total"] == 3
    assert calls["by_api"] == {"/order/get": 2, "/order/items/get": 1}
    assert calls["ok_by_api"] == {"/order/get": 1}
    await sandbox.admin("DELETE", "/calls")
    assert await sandbox.admin("GET", "/calls") == {
        "total": 0,
        "by_api": {},
        "ok_by_api": {},
        "max_per_second": 0,
        "by_seller": {},
    }


async def test_calls_per_seller_and_per_second(sandbox: Sandbox) -> None:
    """Each call counts for the seller whose token it carries, refused ones included (an
    expired token, a throttled call); ``max_per_second`` is the most calls within any one
    second, and ``times`` every call's arrival."""
    token, created = await _seeded(sandbox)
    other = (await sandbox.seller(OTHER_SELLER))["access_token"]
    params = {"order_id": str(created["order"]["order_id"])}
    before = time.time()
    for _ in range(3):
        await sandbox.call("/order/get", params, access_token=token)
    await sandbox.admin("PUT", "/faults", {"throttle_next": 1})
    assert (await sandbox.call("/order/get", params, access_token=token))["code"] != "0"
    await sandbox.call("/order/get", params, access_token=other)
    await sandbox.call("/order/get", params, access_token="not-a-token-we-issued")
    calls = await sandbox.admin("GET", "/calls", times="true")
    after = time.time()
    assert calls["total"] == 6
    mine, theirs = calls["by_seller"][SELLER], calls["by_seller"][OTHER_SELLER]
    assert calls["by_seller"].keys() == {SELLER, OTHER_SELLER}
    assert (mine["total"], theirs["total"]) == (4, 1)
    assert len(mine["times"]) == 4
    assert before <= mine["first_at"] <= mine["last_at"] <= after
    assert mine["max_per_second"] == max_in_window(mine["times"])
    assert 1 <= mine["max_per_second"] <= 4
    assert 2 <= calls["max_per_second"] <= 6
    assert "times" not in (await sandbox.admin("GET", "/calls"))["by_seller"][SELLER]


async def test_concurrent_calls_are_all_served(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    params = {"order_id": str(created["order"]["order_id"])}
    bodies = await asyncio.gather(
        *(sandbox.call("/order/get", params, access_token=token) for _ in range(20))
    )
    assert {body["code"] for body in bodies} == {"0"}
    assert (await sandbox.admin("GET", "/calls"))["ok_by_api"] == {"/order/get": 20}


# --- the official SDK as an independent client -----------------------------------------------


async def test_official_sdk_can_call_the_sandbox(sandbox: Sandbox) -> None:
    token, created = await _seeded(sandbox)
    order_id = str(created["order"]["order_id"])

    def fetch(secret: str) -> Any:
        client = LazopClient(sandbox.url + "/rest", APP_KEY, secret)
        request = LazopRequest("/order/get", "GET")
        request.add_api_param("order_id", order_id)
        return client.execute(request, token)

    response = await asyncio.to_thread(fetch, APP_SECRET)
    assert response.code == "0", response.body
    assert response.body["data"]["order_id"] == int(order_id)
    rejected = await asyncio.to_thread(fetch, "wrong-secret")
    assert rejected.code == "IncompleteSignature"
    assert rejected.type == "ISV"


async def test_official_sdk_refresh_over_post(sandbox: Sandbox) -> None:
    seller = await sandbox.seller(SELLER)

    def refresh() -> Any:
        client = LazopClient(sandbox.url + "/rest", APP_KEY, APP_SECRET)
        request = LazopRequest("/auth/token/refresh")  # the SDK's default method is POST
        request.add_api_param("refresh_token", seller["refresh_token"])
        return client.execute(request)

    response = await asyncio.to_thread(refresh)
    assert response.code == "0", response.body
    assert response.body["refresh_token"] != seller["refresh_token"]


def test_max_in_window_counts_the_busiest_second() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([5.0]) == 1
    # [0, 1) holds three; [0.5, 1.5) holds four.
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.2, 3.0]) == 4
    assert max_in_window([3.0, 0.0, 1.0, 2.0]) == 1  # order does not matter; 1 s apart is apart
