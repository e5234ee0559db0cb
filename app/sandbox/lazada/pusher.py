"""Signed trade-order pushes (message_type 0) to the configured webhook, as Lazada sends them.

Deliveries are strictly sequential (one lock), so the order in which a batch is sent is exactly
the order the receiver sees; the duplicate/reverse knobs then model at-least-once delivery and the
absence of ordering guarantees (lazada.md §2.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from app.integrations.lazada.signing import push_signature
from app.sandbox.lazada.models import Item, Order, Seller
from app.sandbox.lazada.state import SandboxState

# Lazada wants an ack within 500 ms; a generous timeout still lets tests see slow receivers.
DELIVERY_TIMEOUT_S = 5.0


def trade_order_push(seller: Seller, order: Order, item: Item, *, now_ms: int) -> bytes:
    """The documented body plus ``buyer_id``, which real pushes carry; compact like Lazada's."""
    body = {
        "seller_id": seller.seller_id,
        "message_type": 0,
        "data": {
            "order_status": item.status,
            "trade_order_id": str(order.order_id),
            "trade_order_line_id": str(item.order_item_id),
            "status_update_time": item.updated_at,
            "buyer_id": order.buyer_id,
        },
        "timestamp": now_ms,
        "site": f"lazada_{seller.country}",
    }
    return orjson.dumps(body)


@dataclass
class Delivery:
    url: str
    raw: bytes
    authorization: str
    status_code: int | None
    elapsed_ms: float
    error: str | None

    def as_json(self) -> dict[str, Any]:
        try:
            body: Any = orjson.loads(self.raw)
        except orjson.JSONDecodeError:
            body = None
        return {
            "url": self.url,
            "body": body,
            "raw": self.raw.decode(errors="replace"),
            "authorization": self.authorization,
            "status_code": self.status_code,
            # Lazada's ack is the status code 200 itself, nothing else (docId 120164).
            "acked": self.status_code == 200,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "error": self.error,
        }


class Pusher:
    def __init__(self, state: SandboxState) -> None:
        self._state = state
        self._client: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[list[Delivery]]] = set()
        self.deliveries: list[Delivery] = []

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        # Mounted as a sub-application the lifespan never runs, so create the client on demand.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S)
        return self._client

    def reset(self) -> None:
        self.deliveries.clear()

    async def send(self, bodies: list[bytes]) -> list[Delivery]:
        """Deliver one batch in order (after the fault knobs) and wait for every answer."""
        url = self._state.webhook_url
        if url is None or not bodies:
            return []
        faults = self._state.faults
        batch = list(reversed(bodies)) if faults.reverse_pushes else list(bodies)
        if faults.duplicate_pushes:
            batch = [body for body in batch for _ in range(2)]
        results: list[Delivery] = []
        async with self._lock:
            for body in batch:
                results.append(await self._deliver(url, body))
        return results

    def send_later(self, bodies: list[bytes]) -> None:
        """Pushes caused by a REST call go out after its answer, as Lazada's do."""
        if self._state.webhook_url is None or not bodies:
            return
        task = asyncio.create_task(self.send(bodies))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for background batches, so readers of ``deliveries`` need no sleeps."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _deliver(self, url: str, body: bytes) -> Delivery:
        delay_ms = self._state.faults.push_delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        signature = push_signature(self._state.app_key, self._state.app_secret, body)
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            response = await self._http().post(
                url,
                content=body,
                headers={"Content-Type": "application/json", "Authorization": signature},
            )
            status_code = response.status_code
        except Exception as exc:  # an unreachable webhook is data for the test, not a crash
            error = f"{type(exc).__name__}: {exc}"
        delivery = Delivery(
            url=url,
            raw=body,
            authorization=signature,
            status_code=status_code,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )
        self.deliveries.append(delivery)
        return delivery


def now_ms(state: SandboxState) -> int:
    return int(state.clock.now() * 1000)


def pushes_for(state: SandboxState, order: Order, items: list[Item]) -> list[bytes]:
    """One message per order line: that is how Lazada reports a multi-item change."""
    seller = state.sellers[order.seller_id]
    stamp = now_ms(state)
    return [trade_order_push(seller, order, item, now_ms=stamp) for item in items]
