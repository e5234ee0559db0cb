"""What the rate-limit tests share: a seller in the Lazada sandbox, and "processes" (each with its
own engine, HTTP client and limiter, built the way ``ordersync worker`` builds them)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.integrations import errors
from app.integrations.http import new_http_client
from app.models import MarketplaceAccount
from app.worker.context import WorkerContext

# Low enough that a few seconds show the limit, and that a call's way from its token to the
# sandbox (under 1/RATE seconds on any machine) cannot move a call into the next second's count.
RATE, BURST = 4.0, 4.0


@dataclass(frozen=True)
class Seller:
    seller_id: str
    order_id: str
    account: MarketplaceAccount  # not stored: the limiter only needs its id

    @property
    def bucket_key(self) -> str:
        return f"lazada:account:{self.account.id}"


async def new_seller(sandbox: httpx.AsyncClient, seller_id: str) -> Seller:
    """A seller with one order in the sandbox, and the account our clients call it with."""
    created = await sandbox.post(
        "/_sandbox/sellers", json={"seller_id": seller_id, "country": "sg"}
    )
    created.raise_for_status()
    order = await sandbox.post(
        "/_sandbox/orders", json={"seller_id": seller_id, "items": [{"sku": "A"}], "push": False}
    )
    order.raise_for_status()
    account = MarketplaceAccount(
        id=uuid.uuid4(),
        marketplace="lazada",
        seller_id=seller_id,
        country="sg",
        access_token=created.json()["access_token"],
    )
    return Seller(seller_id, str(order.json()["order"]["order_id"]), account)


@contextlib.asynccontextmanager
async def a_process(
    settings: Settings, database_url: str, name: str
) -> AsyncIterator[WorkerContext]:
    """What one process of ours has: its own pool, HTTP client and limiter (its own gates)."""
    engine = create_engine(database_url, process_name=name, pool_size=5)
    try:
        async with new_http_client(timeout=settings.http_timeout) as http:
            yield WorkerContext(settings, create_sessionmaker(engine), http, engine=engine)
    finally:
        await engine.dispose()


async def hammer(ctx: WorkerContext, seller: Seller, *, until: float) -> int:
    """GetOrder for ``seller`` as fast as the limiter lets it, until ``until`` (monotonic)."""
    client = ctx.lazada(seller.account)
    made = 0
    while time.monotonic() < until:
        await client.get_order(seller.order_id)
        made += 1
    return made


async def hammer_all(
    contexts: list[WorkerContext], sellers: list[Seller], *, callers: int, seconds: float
) -> list[int]:
    """``callers`` coroutines per process and seller, all started at once; calls per caller."""
    until = time.monotonic() + seconds
    return list(
        await asyncio.gather(
            *(
                hammer(ctx, seller, until=until)
                for ctx in contexts
                for seller in sellers
                for _ in range(callers)
            )
        )
    )


async def calls_seen(sandbox: httpx.AsyncClient) -> dict[str, Any]:
    """The sandbox's counters, with every call's arrival time per seller."""
    response = await sandbox.get("/_sandbox/calls", params={"times": "true"})
    response.raise_for_status()
    calls: dict[str, Any] = response.json()
    return calls


async def throttled_get(ctx: WorkerContext, seller: Seller) -> errors.RateLimited:
    """GetOrder that must be answered "slow down" (or refused by our own limiter)."""
    try:
        await ctx.lazada(seller.account).get_order(seller.order_id)
    except errors.RateLimited as exc:
        return exc
    raise AssertionError("the call was not rate limited")


def assert_within(seen: dict[str, Any], *, rate: float, burst: float) -> None:
    """The token bucket's bound on what the sandbox saw: per second, and over the whole run."""
    assert seen["max_per_second"] <= rate + burst, seen["max_per_second"]
    span = seen["last_at"] - seen["first_at"]
    assert seen["total"] <= burst + rate * span + 1, (seen["total"], span)
