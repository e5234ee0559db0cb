"""Order APIs of Shoplazza OpenAPI 2022-01: get, get by number, list, count, cancel.

Every handler is synchronous: it reads and changes the state without yielding to the loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.sandbox.shoplazza.errors import ShoplazzaError, not_found
from app.sandbox.shoplazza.models import (
    FINANCIAL_STATUSES,
    FULFILLMENT_STATUSES,
    ORDER_STATUSES,
    Order,
    Shop,
)
from app.sandbox.shoplazza.state import ShoplazzaState
from app.sandbox.shoplazza.views import render_order

MAX_REASON_LENGTH = 255
DEFAULT_LIMIT = 10
MAX_LIMIT = 250
STATUS_FILTERS = {
    "status": ORDER_STATUSES,
    "financial_status": FINANCIAL_STATUSES,
    "fulfillment_status": FULFILLMENT_STATUSES,
}
TIME_FILTERS = {
    "created_at_min": ("created_at", 1),
    "created_at_max": ("created_at", -1),
    "updated_at_min": ("updated_at", 1),
    "updated_at_max": ("updated_at", -1),
}


@dataclass
class Call:
    state: ShoplazzaState
    shop: Shop
    query: dict[str, str]
    body: bytes
    content_type: str
    committed: bool = False  # set by a handler that changed the state


Handler = Callable[[Call], dict[str, Any]]


def _own_order(call: Call, order_id: str) -> Order:
    """The order, if it belongs to the token's shop: another shop's order does not exist."""
    order = call.state.orders.get(order_id)
    if order is None or order.shop_domain != call.shop.domain:
        raise not_found()
    return order


def get_order(order_id: str) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        return {"order": render_order(_own_order(call, order_id), call.shop.domain)}

    return handle


def get_order_by_number(number: str) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        for order in call.state.shop_orders(call.shop):
            if order.number == number:
                return {"order": render_order(order, call.shop.domain)}
        raise not_found()

    return handle


def _cancel_reason(call: Call) -> str | None:
    raw = call.body.strip()
    if not raw:
        return None  # the body is optional
    if call.content_type.split(";")[0].strip().lower() != "application/json":
        raise ShoplazzaError(400, "Content-Type must be application/json")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ShoplazzaError(400, "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ShoplazzaError(422, "Request body must be a JSON object")
    reason = data.get("reason")
    if reason is None:
        return None
    if not isinstance(reason, str):
        raise ShoplazzaError(422, "reason must be a string")
    if len(reason) > MAX_REASON_LENGTH:
        raise ShoplazzaError(422, f"reason is too long (maximum is {MAX_REASON_LENGTH} characters)")
    return reason


def cancel_order(order_id: str) -> Handler:
    def handle(call: Call) -> dict[str, Any]:
        order = _own_order(call, order_id)
        reason = _cancel_reason(call)
        call.state.cancel(order, reason)
        call.committed = True
        return {"order": render_order(order, call.shop.domain)}

    return handle


def _int_param(call: Call, name: str, default: int, low: int, high: int | None) -> int:
    raw = call.query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ShoplazzaError(422, fields={name: ["must be an integer"]}) from None
    if value < low:
        raise ShoplazzaError(422, fields={name: [f"must be greater than or equal to {low}"]})
    if high is not None and value > high:
        raise ShoplazzaError(422, fields={name: [f"must be less than or equal to {high}"]})
    return value


def _parse_time(name: str, raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ShoplazzaError(422, fields={name: ["is invalid"]}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _matching(call: Call) -> list[Order]:
    orders = call.state.shop_orders(call.shop)
    ids = {i.strip() for i in call.query.get("ids", "").split(",") if i.strip()}
    if ids:
        orders = [o for o in orders if o.id in ids]
    for name, allowed in STATUS_FILTERS.items():
        wanted = call.query.get(name, "")
        if wanted == "":
            continue
        if wanted not in allowed:
            raise ShoplazzaError(422, fields={name: ["is not included in the list"]})
        orders = [o for o in orders if getattr(o, name) == wanted]
    for name, (attribute, sign) in TIME_FILTERS.items():
        raw = call.query.get(name, "")
        if raw == "":
            continue
        bound = _parse_time(name, raw)
        orders = [o for o in orders if (getattr(o, attribute) - bound).total_seconds() * sign >= 0]
    return orders


def list_orders(call: Call) -> dict[str, Any]:
    limit = _int_param(call, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    page = _int_param(call, "page", 1, 1, None)
    orders = sorted(_matching(call), key=lambda o: (o.created_at, o.id), reverse=True)
    chunk = orders[(page - 1) * limit : page * limit]
    return {"orders": [render_order(o, call.shop.domain) for o in chunk], "count": len(orders)}


def count_orders(call: Call) -> dict[str, Any]:
    return {"count": len(_matching(call))}
