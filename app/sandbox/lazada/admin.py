"""The ``/_sandbox`` control surface: seed sellers and orders, drive statuses, inject faults,
read back what was called and pushed. JSON in and out, no auth (it is a test double)."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException

from app.sandbox.lazada.models import Item, Order
from app.sandbox.lazada.pusher import Delivery, Pusher, pushes_for
from app.sandbox.lazada.schemas import (
    AuthCodeIn,
    BulkOrdersIn,
    ClockIn,
    ConfigIn,
    FaultsIn,
    OrderIn,
    PushIn,
    SellerIn,
    StatusIn,
)
from app.sandbox.lazada.state import Conflict, NotFound, SandboxState
from app.sandbox.lazada.views import render_item, render_order


def _http_error(error: Exception) -> HTTPException:
    return HTTPException(status_code=409 if isinstance(error, Conflict) else 404, detail=str(error))


def build_admin_router(state: SandboxState, pusher: Pusher) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

    def order_view(order: Order, deliveries: list[Delivery] | None = None) -> dict[str, Any]:
        seller = state.sellers[order.seller_id]
        view: dict[str, Any] = {
            "seller_id": order.seller_id,
            "order": render_order(order, seller),
            "items": [render_item(item, order, seller) for item in order.items],
        }
        if deliveries is not None:
            view["pushes"] = [d.as_json() for d in deliveries]
        return view

    def find(order_id: int, seller_id: str | None) -> Order:
        try:
            return state.find_order(order_id, seller_id)
        except (NotFound, Conflict) as error:
            raise _http_error(error) from None

    async def push_items(order: Order, items: list[Item], push: bool) -> list[Delivery]:
        return await pusher.send(pushes_for(state, order, items)) if push else []

    @router.post("/sellers")
    async def add_seller(spec: SellerIn) -> dict[str, Any]:
        seller, access, refresh = state.upsert_seller(spec)
        now = state.clock.now()
        return {
            "seller_id": seller.seller_id,
            "country": seller.country,
            "access_token": access.value,
            "refresh_token": refresh.value,
            "expires_in": max(0, round(access.expires_at - now)),
            "refresh_expires_in": max(0, round(refresh.expires_at - now)),
            "user_id": seller.user_id,
            "short_code": seller.short_code,
            "account": seller.account,
        }

    @router.post("/auth_codes")
    async def add_auth_code(spec: AuthCodeIn) -> dict[str, Any]:
        """An OAuth code as the authorize redirect would carry, for /auth/token/create."""
        try:
            return {"code": state.new_auth_code(spec.seller_id)}
        except NotFound as error:
            raise _http_error(error) from None

    @router.post("/orders")
    async def add_order(spec: OrderIn) -> dict[str, Any]:
        try:
            order = state.create_order(spec)
        except (NotFound, Conflict) as error:
            raise _http_error(error) from None
        return order_view(order, await push_items(order, order.items, spec.push))

    @router.post("/orders/bulk")
    async def add_orders_bulk(spec: BulkOrdersIn) -> dict[str, Any]:
        """Seed many orders in one call, without pushes (for pull tests and benchmarks)."""
        try:
            orders = state.create_orders_bulk(spec)
        except (NotFound, Conflict) as error:
            raise _http_error(error) from None
        answer: dict[str, Any] = {
            "created": len(orders),
            "order_ids": [order.order_id for order in orders],
        }
        if spec.pushes:
            answer["pushes"] = [
                body.decode() for order in orders for body in pushes_for(state, order, order.items)
            ]
        return answer

    @router.get("/orders/{order_id}")
    async def get_order(order_id: int, seller_id: str | None = None) -> dict[str, Any]:
        return order_view(find(order_id, seller_id))

    @router.post("/orders/{order_id}/status")
    async def change_status(
        order_id: int, change: StatusIn, seller_id: str | None = None
    ) -> dict[str, Any]:
        order = find(order_id, seller_id)
        try:
            moved = state.set_status(order, change)
        except NotFound as error:
            raise _http_error(error) from None
        return order_view(order, await push_items(order, moved, change.push))

    @router.post("/pushes")
    async def send_push(spec: PushIn) -> dict[str, Any]:
        if state.webhook_url is None:
            raise HTTPException(status_code=409, detail="no webhook_url configured")
        # orjson is compact, like Lazada's own bodies; a raw string is sent byte for byte.
        raw = spec.raw.encode() if spec.raw is not None else orjson.dumps(spec.body)
        return {"pushes": [d.as_json() for d in await pusher.send([raw])]}

    @router.get("/pushes")
    async def list_pushes() -> list[dict[str, Any]]:
        await pusher.drain()  # pushes caused by REST calls go out in the background
        return [d.as_json() for d in pusher.deliveries]

    @router.get("/config")
    async def get_config() -> dict[str, Any]:
        return {"webhook_url": state.webhook_url, "app_key": state.app_key}

    @router.put("/config")
    async def put_config(spec: ConfigIn) -> dict[str, Any]:
        state.webhook_url = spec.webhook_url
        return {"webhook_url": state.webhook_url, "app_key": state.app_key}

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return dataclasses.asdict(state.faults)

    @router.put("/faults")
    async def put_faults(patch: FaultsIn) -> dict[str, Any]:
        changes = patch.model_dump(exclude_unset=True, exclude_none=True)
        expired = 0
        if changes.pop("expire_access_tokens", False):
            expired = state.expire_all_access_tokens()
        for name, value in changes.items():
            setattr(state.faults, name, value)
        return {**dataclasses.asdict(state.faults), "expired_access_tokens": expired}

    @router.get("/calls")
    async def get_calls(times: bool = False) -> dict[str, Any]:
        """Calls served, by API and by seller; ``max_per_second`` is the most calls that
        arrived within any one second (in all, and per seller). ``?times=true`` adds each
        seller's arrival times (epoch seconds)."""
        return state.calls.summary(with_times=times)

    @router.delete("/calls")
    async def reset_calls() -> dict[str, Any]:
        state.calls = type(state.calls)()
        return state.calls.summary()

    @router.post("/clock")
    async def advance_clock(spec: ClockIn) -> dict[str, Any]:
        """Ages tokens and stamps later changes; request timestamps are still checked against
        the real clock."""
        state.clock.offset_s += spec.advance_s
        return {"now": state.clock.now(), "offset_s": state.clock.offset_s}

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        await pusher.drain()
        state.reset()
        pusher.reset()
        return {"reset": True}

    return router
