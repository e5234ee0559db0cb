"""The ``/_sandbox`` control surface: seed shops and orders, read the truth, move orders,
inject faults, read back the calls. JSON in and out, no auth (it is a test double)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException

from app.sandbox.shoplazza.models import Order, Shop
from app.sandbox.shoplazza.schemas import FaultsIn, OrderIn, OrderPatchIn, ShopIn
from app.sandbox.shoplazza.state import Conflict, NotFound, ShoplazzaState
from app.sandbox.shoplazza.views import render_order

RATE_KNOBS = frozenset({"rate_limit", "rate_limit_per_s", "rate_limit_burst"})


def _http_error(error: Exception) -> HTTPException:
    return HTTPException(status_code=409 if isinstance(error, Conflict) else 404, detail=str(error))


def shop_view(shop: Shop) -> dict[str, Any]:
    return {
        "shop_domain": shop.domain,
        "store_id": shop.store_id,
        "access_token": shop.access_token,
        "scopes": sorted(shop.scopes),
    }


def order_view(order: Order) -> dict[str, Any]:
    return {"shop_domain": order.shop_domain, "order": render_order(order, order.shop_domain)}


def build_admin_router(state: ShoplazzaState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

    def find(order_id: str) -> Order:
        try:
            return state.find_order(order_id)
        except NotFound as error:
            raise _http_error(error) from None

    @router.post("/shops")
    async def add_shop(spec: ShopIn) -> dict[str, Any]:
        try:
            return shop_view(state.upsert_shop(spec))
        except Conflict as error:
            raise _http_error(error) from None

    @router.get("/shops")
    async def list_shops() -> list[dict[str, Any]]:
        return [shop_view(shop) for shop in state.shops.values()]

    @router.post("/orders")
    async def add_order(spec: OrderIn) -> dict[str, Any]:
        try:
            return order_view(state.create_order(spec))
        except (NotFound, Conflict) as error:
            raise _http_error(error) from None

    @router.get("/orders/{order_id}")
    async def get_order(order_id: str) -> dict[str, Any]:
        return order_view(find(order_id))

    @router.patch("/orders/{order_id}")
    async def patch_order(order_id: str, patch: OrderPatchIn) -> dict[str, Any]:
        return order_view(state.patch_order(find(order_id), patch))

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return dataclasses.asdict(state.faults)

    @router.put("/faults")
    async def put_faults(patch: FaultsIn) -> dict[str, Any]:
        changes = patch.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in changes.items():
            setattr(state.faults, name, value)
        if RATE_KNOBS & changes.keys():
            state.buckets.clear()  # a new limit starts from an empty bucket
        return dataclasses.asdict(state.faults)

    @router.get("/calls")
    async def get_calls() -> dict[str, Any]:
        return dataclasses.asdict(state.calls)

    @router.delete("/calls")
    async def reset_calls() -> dict[str, Any]:
        state.calls = type(state.calls)()
        return dataclasses.asdict(state.calls)

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return router
