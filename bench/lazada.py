"""Lazada fixtures: sandbox sellers connected to our service, sandbox orders, and the signed
trade-order pushes that Lazada would send for them."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.integrations.lazada.signing import push_signature
from bench.common import expect
from bench.stack import APP_KEY, APP_SECRET

FIRST_SELLER_ID = 300400500000  # sellers are FIRST_SELLER_ID, +1, +2...
COUNTRY = "vn"
PUSHED_STATUS = "pending"  # what the sandbox's new items are, and what the pushes report
WEBHOOK_PATH = "/webhooks/lazada"
SETUP_CONCURRENCY = 8  # sandbox and API calls in flight while seeding

LineKey = tuple[str, str]  # (order id, order line id)


@dataclass(frozen=True, slots=True)
class Push:
    order_id: str
    line_id: str
    body: bytes
    signature: str

    @property
    def key(self) -> LineKey:
        return (self.order_id, self.line_id)

    @property
    def path(self) -> str:
        return WEBHOOK_PATH

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return (("Authorization", self.signature),)


def make_push(seller_id: str, order_id: str, line_id: str) -> Push:
    """A trade-order push as Lazada sends it: compact JSON, signed over app key + raw body."""
    now = time.time()
    body = orjson.dumps(
        {
            "seller_id": seller_id,
            "message_type": 0,
            "data": {
                "order_status": PUSHED_STATUS,
                "trade_order_id": order_id,
                "trade_order_line_id": line_id,
                "status_update_time": int(now),
                "buyer_id": "1",
            },
            "timestamp": int(now * 1000),
            "site": f"lazada_{COUNTRY}",
        }
    )
    return Push(order_id, line_id, body, push_signature(APP_KEY, APP_SECRET, body))


async def connect_seller(
    sandbox: httpx.AsyncClient, api: httpx.AsyncClient, seller_id: str
) -> uuid.UUID:
    """The seller in the sandbox and its account in our service; returns the account id."""
    seller = await sandbox.post(
        "/_sandbox/sellers", json={"seller_id": seller_id, "country": COUNTRY}
    )
    expect(seller, 200, "create a sandbox seller")
    tokens = seller.json()
    account = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "lazada",
            "seller_id": seller_id,
            "country": COUNTRY,
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
        },
    )
    expect(account, 201, "create an account")
    return uuid.UUID(account.json()["id"])


async def connect_sellers(
    sandbox: httpx.AsyncClient, api: httpx.AsyncClient, count: int
) -> dict[str, uuid.UUID]:
    """``count`` sellers; returns their account ids by seller id."""
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    seller_ids = [str(FIRST_SELLER_ID + n) for n in range(count)]

    async def one(seller_id: str) -> uuid.UUID:
        async with gate:
            return await connect_seller(sandbox, api, seller_id)

    account_ids = await asyncio.gather(*(one(seller_id) for seller_id in seller_ids))
    return dict(zip(seller_ids, account_ids, strict=True))


async def create_order(sandbox: httpx.AsyncClient, seller_id: str, items: int) -> dict[str, Any]:
    """An order with ``items`` pending lines in the sandbox, not pushed by it; returns the
    sandbox's view (``order``, ``items``)."""
    response = await sandbox.post(
        "/_sandbox/orders",
        json={
            "seller_id": seller_id,
            "items": [{"sku": f"BENCH-{n}", "name": f"Bench item {n}"} for n in range(items)],
            "push": False,
        },
    )
    expect(response, 200, "create a sandbox order")
    document: dict[str, Any] = response.json()
    return document


async def create_pushed_order(sandbox: httpx.AsyncClient, seller_id: str, items: int) -> list[Push]:
    """An order in the sandbox, not pushed by it: we send its pushes (one per line) ourselves."""
    document = await create_order(sandbox, seller_id, items)
    order_id = str(document["order"]["order_id"])
    lines = [str(item["order_item_id"]) for item in document["items"]]
    return [make_push(seller_id, order_id, line) for line in lines]


async def create_pushes(
    sandbox: httpx.AsyncClient, sellers: Sequence[str], pushes: int, items: int
) -> list[Push]:
    """Orders for ``pushes`` pushes, round-robin over the sellers; an order's pushes are next to
    each other, as Lazada sends them."""
    orders = math.ceil(pushes / items)
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(n: int) -> list[Push]:
        async with gate:
            return await create_pushed_order(sandbox, sellers[n % len(sellers)], items)

    batches = await asyncio.gather(*(one(n) for n in range(orders)))
    return [push for batch in batches for push in batch][:pushes]
