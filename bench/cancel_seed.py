"""The cancellation benchmark's fixtures: per marketplace, sellers (Lazada, Newegg) or shops
(Shoplazza) in its sandbox, each connected to our service through ``POST /v1/accounts``, and
cancellable orders spread round-robin over them; then one cancel request per order.

* Lazada: orders whose items are all ``pending``, created with ``push: false`` (the service
  learns of them only through the cancellation);
* Shoplazza: unpaid orders (``financial_status: waiting``, status ``opened``);
* Newegg: seller-fulfilled ``Unshipped`` orders on Newegg.com (``us``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson

from bench.common import expect
from bench.lazada import SETUP_CONCURRENCY, connect_seller, create_order

MARKETPLACES = ("lazada", "shoplazza", "newegg")
FIRST_LAZADA_SELLER = 500600700000
# What each cancellation asks for: a reason every marketplace maps (Lazada by the reason's
# name, Newegg to code 24; Shoplazza sends the label as free text).
REASON = "out_of_stock"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """``POST /v1/accounts/{account}/orders/{order}/cancellations`` with its own key."""

    marketplace: str
    account_id: str
    order_id: str
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]


@dataclass
class Seeded:
    marketplace: str
    accounts: list[str]  # account ids, in the order the orders were spread over them
    requests: list[CancelRequest]  # order i belongs to account i % len(accounts)


def cancel_request(marketplace: str, account_id: str, order_id: str, token: str) -> CancelRequest:
    return CancelRequest(
        marketplace,
        account_id,
        order_id,
        f"/v1/accounts/{account_id}/orders/{order_id}/cancellations",
        orjson.dumps({"reason": REASON}),
        (("Authorization", f"Bearer {token}"), ("Idempotency-Key", f"bench-{uuid.uuid4()}")),
    )


async def _gather(count: int, one: Callable[[int], Awaitable[T]]) -> list[T]:
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def gated(n: int) -> T:
        async with gate:
            return await one(n)

    return list(await asyncio.gather(*(gated(n) for n in range(count))))


async def _account(api: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await api.post("/v1/accounts", json=body)
    expect(response, 201, f"create a {body['marketplace']} account")
    return str(response.json()["id"])


# --- per marketplace: connect an account, create an order ------------------------------------


def lazada_seller(n: int) -> str:
    return str(FIRST_LAZADA_SELLER + n)


async def lazada_account(sandbox: httpx.AsyncClient, api: httpx.AsyncClient, n: int) -> str:
    return str(await connect_seller(sandbox, api, lazada_seller(n)))


def shop_domain(n: int) -> str:
    return f"bench-{n:05d}.myshoplaza.com"


async def shoplazza_account(sandbox: httpx.AsyncClient, api: httpx.AsyncClient, n: int) -> str:
    domain = shop_domain(n)
    shop = await sandbox.post("/_sandbox/shops", json={"shop_domain": domain})
    expect(shop, 200, "create a Shoplazza sandbox shop")
    body = {
        "marketplace": "shoplazza",
        "shop_domain": domain,
        "access_token": shop.json()["access_token"],
    }
    return await _account(api, body)


def newegg_seller(n: int) -> str:
    return f"BENCH{n:05d}"


async def newegg_account(sandbox: httpx.AsyncClient, api: httpx.AsyncClient, n: int) -> str:
    seller_id = newegg_seller(n)
    seller = await sandbox.post("/_sandbox/sellers", json={"seller_id": seller_id, "sites": ["us"]})
    expect(seller, 200, "create a Newegg sandbox seller")
    keys = seller.json()
    body = {
        "marketplace": "newegg",
        "seller_id": seller_id,
        "site": "us",
        "api_key": keys["api_key"],
        "secret_key": keys["secret_key"],
    }
    return await _account(api, body)


async def lazada_order(sandbox: httpx.AsyncClient, n: int, items: int) -> str:
    return str((await create_order(sandbox, lazada_seller(n), items))["order"]["order_id"])


async def shoplazza_order(sandbox: httpx.AsyncClient, n: int, items: int) -> str:
    response = await sandbox.post(
        "/_sandbox/orders", json={"shop_domain": shop_domain(n), "financial_status": "waiting"}
    )
    expect(response, 200, "create a Shoplazza sandbox order")
    return str(response.json()["order"]["id"])


async def newegg_order(sandbox: httpx.AsyncClient, n: int, items: int) -> str:
    response = await sandbox.post(
        "/_sandbox/orders",
        json={"seller_id": newegg_seller(n), "site": "us", "status": "Unshipped"},
    )
    expect(response, 200, "create a Newegg sandbox order")
    return str(response.json()["order_number"])


AccountFactory = Callable[[httpx.AsyncClient, httpx.AsyncClient, int], Awaitable[str]]
OrderFactory = Callable[[httpx.AsyncClient, int, int], Awaitable[str]]
FACTORIES: dict[str, tuple[AccountFactory, OrderFactory]] = {
    "lazada": (lazada_account, lazada_order),
    "shoplazza": (shoplazza_account, shoplazza_order),
    "newegg": (newegg_account, newegg_order),
}


async def seed(
    marketplace: str,
    sandbox: httpx.AsyncClient,
    api: httpx.AsyncClient,
    token: str,
    *,
    orders: int,
    accounts: int,
    items: int,
    first: int = 0,
) -> Seeded:
    """``accounts`` connected accounts (numbered from ``first``) and ``orders`` cancellable
    orders, round-robin over them."""
    new_account, new_order = FACTORIES[marketplace]
    account_ids = await _gather(accounts, lambda n: new_account(sandbox, api, first + n))
    order_ids = await _gather(orders, lambda i: new_order(sandbox, first + i % accounts, items))
    requests = [
        cancel_request(marketplace, account_ids[i % accounts], order_id, token)
        for i, order_id in enumerate(order_ids)
    ]
    return Seeded(marketplace, account_ids, requests)
