"""GetOrders and GetMultipleOrderItems on the wire: the exact parameters sent (signed), and the
answers parsed, with ``httpx.MockTransport``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest

from app.integrations.lazada.client import LazadaClient
from app.integrations.lazada.signing import rest_sign

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> LazadaClient:
    return LazadaClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        app_key="123456",
        app_secret="helloworld",
        country="vn",
        access_token="test-token",
    )


def _answer(body: dict[str, Any], seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=orjson.dumps(body))

    return handler


async def test_get_orders_asks_by_update_time_ascending() -> None:
    seen: list[httpx.Request] = []
    body = {
        "code": "0",
        "data": {
            "countTotal": 2,
            "count": 2,
            "orders": [
                {
                    "order_id": "446156718969495",
                    "statuses": ["pending"],
                    "price": "12.50",
                    "updated_at": "2026-01-02 10:00:01 +0700",
                },
                {"order_id": 446156718969496, "updated_at": "2026-01-02T03:00:02+00:00"},
            ],
        },
    }
    client = _client(_answer(body, seen))
    after = datetime(2026, 1, 2, 10, 0, 0, 987654, tzinfo=timezone(timedelta(hours=7)))
    page = await client.get_orders(
        update_after=after, update_before=datetime(2026, 1, 3), offset=99, limit=100
    )
    (request,) = seen
    assert request.url.path == "/rest/orders/get"
    params = dict(request.url.params)
    assert params["update_after"] == "2026-01-02T03:00:00+00:00"  # UTC, whole seconds
    assert params["update_before"] == "2026-01-03T00:00:00+00:00"
    assert (params["sort_by"], params["sort_direction"]) == ("updated_at", "ASC")
    assert (params["offset"], params["limit"]) == ("99", "100")
    signed = {k: v for k, v in params.items() if k != "sign"}
    assert params["sign"] == rest_sign("helloworld", "/orders/get", signed)
    assert page.count_total == 2
    assert [o.order_id for o in page.orders] == ["446156718969495", "446156718969496"]
    assert page.orders[0].updated_at == datetime(2026, 1, 2, 3, 0, 1, tzinfo=UTC)
    assert page.raw_orders[0]["price"] == "12.50"


async def test_get_orders_refuses_what_lazada_would() -> None:
    client = _client(_answer({"code": "0"}, []))
    with pytest.raises(ValueError, match="limit"):
        await client.get_orders(update_after=datetime.now(UTC), limit=101)
    with pytest.raises(ValueError, match="offset"):
        await client.get_orders(update_after=datetime.now(UTC), offset=4501)


async def test_get_multiple_order_items_sends_lazadas_list_format() -> None:
    seen: list[httpx.Request] = []
    body = {
        "code": "0",
        "data": [
            {
                "order_id": 1,
                "order_number": 1,
                "order_items": [
                    {"order_item_id": 11, "status": "pending", "paid_price": 9.5},
                    {"order_item_id": 12, "status": "packed"},
                ],
            },
            {"order_id": 2, "order_items": [{"order_item_id": 21, "status": "canceled"}]},
        ],
    }
    items = await _client(_answer(body, seen)).get_multiple_order_items(["1", "2"])
    assert seen[0].url.path == "/rest/orders/items/get"
    assert seen[0].url.params["order_ids"] == "[1,2]"
    assert sorted(items) == ["1", "2"]
    assert [i.status for i in items["1"].order_items] == ["pending", "packed"]
    assert items["1"].raw_items[0]["paid_price"] == 9.5


async def test_get_multiple_order_items_limits_and_no_orders_found() -> None:
    seen: list[httpx.Request] = []
    none_found = {"code": "39", "type": "ISV", "message": "E039: No orders were found"}
    client = _client(_answer(none_found, seen))
    assert await client.get_multiple_order_items(["7"]) == {}
    assert await client.get_multiple_order_items([]) == {}
    assert len(seen) == 1  # nothing asked for, nothing sent
    with pytest.raises(ValueError, match="50"):
        await client.get_multiple_order_items([str(n) for n in range(51)])
