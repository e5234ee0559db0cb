"""The ``/_sandbox`` control surface: seed sellers and orders, read the truth, move orders,
decide SBN cancellations, inject faults, read back the calls. JSON, no auth (a test double)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException

from app.sandbox.newegg.formats import pacific_date
from app.sandbox.newegg.models import CANCEL_REASONS, STATUS_NAME, Order, Seller
from app.sandbox.newegg.schemas import FaultsIn, OrderIn, SbnResultIn, SellerIn, StatusIn
from app.sandbox.newegg.state import Conflict, NeweggState, NotFound
from app.sandbox.newegg.views import render_order_info

NULLABLE_KNOBS = frozenset({"rate_limit_per_hour", "rate_limit_per_minute"})
RATE_KNOBS = NULLABLE_KNOBS | {"rate_limit"}


def _http_error(error: Exception) -> HTTPException:
    return HTTPException(status_code=409 if isinstance(error, Conflict) else 404, detail=str(error))


def seller_view(seller: Seller) -> dict[str, Any]:
    return {
        "seller_id": seller.seller_id,
        "api_key": seller.api_key,
        "secret_key": seller.secret_key,
        "sites": sorted(seller.sites),
    }


def order_view(order: Order) -> dict[str, Any]:
    request = order.sbn
    return {
        "order_number": order.order_number,
        "seller_id": order.seller_id,
        "site": order.site,
        "status": order.status,
        "order_status_code": order.status_code,
        "order_status_name": STATUS_NAME[order.status_code],
        "fulfillment": order.fulfillment,
        "downloaded": order.downloaded,
        "cancel_reason_code": order.cancel_reason_code,
        "cancel_reason": CANCEL_REASONS.get(order.cancel_reason_code or 0),
        "voided_at": None if order.voided_at is None else order.voided_at.isoformat(),
        "sbn_cancellation": None
        if request is None
        else {
            "result": request.result,
            "reason_code": request.reason_code,
            "request_date": pacific_date(request.request_date),
            "error_message": request.error_message,
            "polls": request.polls,
        },
        "order_info": render_order_info(order),
    }


def build_admin_router(state: NeweggState) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])

    def find(number: int) -> Order:
        try:
            return state.find_order(number)
        except NotFound as error:
            raise _http_error(error) from None

    @router.post("/sellers")
    async def add_seller(spec: SellerIn) -> dict[str, Any]:
        try:
            return seller_view(state.upsert_seller(spec))
        except Conflict as error:
            raise _http_error(error) from None

    @router.get("/sellers")
    async def list_sellers() -> list[dict[str, Any]]:
        return [seller_view(seller) for seller in state.sellers.values()]

    @router.post("/orders")
    async def add_order(spec: OrderIn) -> dict[str, Any]:
        try:
            return order_view(state.create_order(spec))
        except (NotFound, Conflict) as error:
            raise _http_error(error) from None

    @router.get("/orders/{number}")
    async def get_order(number: int) -> dict[str, Any]:
        return order_view(find(number))

    @router.post("/orders/{number}/status")
    async def set_status(number: int, change: StatusIn) -> dict[str, Any]:
        order = find(number)
        state.set_status(order, change.status)
        return order_view(order)

    @router.post("/orders/{number}/sbn-result")
    async def decide_sbn(number: int, decision: SbnResultIn) -> dict[str, Any]:
        order = find(number)
        try:
            state.resolve_sbn(order, decision.result, decision.error_message)
        except Conflict as error:
            raise _http_error(error) from None
        return order_view(order)

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return dataclasses.asdict(state.faults)

    @router.put("/faults")
    async def put_faults(patch: FaultsIn) -> dict[str, Any]:
        changes = patch.model_dump(exclude_unset=True)
        for name, value in changes.items():
            if value is not None or name in NULLABLE_KNOBS:
                setattr(state.faults, name, value)
        if RATE_KNOBS & changes.keys():
            state.windows.clear()  # a new limit starts from fresh windows
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
