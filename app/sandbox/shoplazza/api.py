"""Shoplazza OpenAPI 2022-01 under ``/openapi/2022-01``: faults, auth, rate limit, dispatch.

Documented behaviour (shoplazza_newegg.md §A, Cancel Order seed): ``Access-Token`` header;
scopes ``read_order``/``write_order`` (cancel needs ``write_order``); ``{"order": {...}}``
envelopes; ``canceled_at`` with one "l"; 404 ``{"errors": ["Unable to find resource"]}``; 406 for
a request the order's state forbids; 422 for malformed parameters; 429 over the rate limit;
a paid order that is cancelled becomes ``finished`` (webhook FAQ).

Choices where the docs are silent:

* Checks run in this order: injected faults, token (401), rate limit (429), scope (403), order
  (404), body (400/422), order state (406).
* Missing or unknown token: 401 (the http-status page; the cancel page's table says 400).
  Reading needs ``read_order`` or ``write_order``; cancelling needs ``write_order``.
* Another shop's order answers 404, exactly like a missing one.
* Cancellable: ``status`` opened/placed and ``fulfillment_status`` initialled/waiting. Already
  cancelled or finished, or any shipment/return progress: 406.
* Unpaid (anything but paid/partially_paid/partially_refunded): ``status`` and
  ``financial_status`` become ``cancelled``. Paid: ``status`` ``finished``,
  ``financial_status`` ``refunded`` at once and ``total_refund_price`` = ``total_price``.
  Both: ``fulfillment_status`` ``cancelled``, ``canceled_at`` and ``updated_at`` set,
  ``cancel_reason`` = the reason ("" when none is given).
* Body: optional; non-empty needs ``Content-Type: application/json`` and valid JSON (else 400);
  it must be an object whose ``reason``, if not null, is a string of at most 255 characters
  (else 422). Unknown fields are ignored.
* Rate limit: a leaky bucket per shop, 2 requests/s leak and a burst of 40 (the third-party
  summary's figures); a 429 carries ``Retry-After`` (whole seconds). No other rate headers: their
  names are not documented. Refused calls do not fill the bucket.
* Error bodies: see ``errors``. The list endpoint answers ``{"orders": [...], "count": n}``
  (page/limit pagination, newest first); ``next_token`` is not simulated.
"""

from __future__ import annotations

import asyncio
import math

import orjson
from fastapi import APIRouter, Request, Response

from app.sandbox.shoplazza import orders
from app.sandbox.shoplazza.errors import NOT_FOUND, ShoplazzaError
from app.sandbox.shoplazza.models import Shop
from app.sandbox.shoplazza.orders import Call, Handler
from app.sandbox.shoplazza.state import ShoplazzaState
from app.sandbox.wire import drop_connection, hang

PREFIX = "/openapi/2022-01"
READ, WRITE = "read_order", "write_order"
OUTAGE_HTML = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def error_response(error: ShoplazzaError) -> Response:
    return json_response(error.status, error.body(), error.headers)


def _failure(status: int) -> Response:
    if status == 503:
        return Response(OUTAGE_HTML, status_code=503, media_type="text/html")
    return error_response(ShoplazzaError(500, "Internal Server Error"))


def _gone() -> Response:
    """What a handler returns once its client has left: uvicorn discards it."""
    return Response(status_code=500)


def _authenticate(state: ShoplazzaState, request: Request, scope: str) -> Shop:
    token = request.headers.get("access-token", "").strip()
    if not token:
        raise ShoplazzaError(401, "Access-Token header is missing")
    shop = state.shop_for_token(token)
    if shop is None:
        raise ShoplazzaError(401, "Invalid access token")
    wait = state.take_rate(shop)
    if wait is not None:
        retry_after = str(max(1, math.ceil(wait)))
        raise ShoplazzaError(
            429,
            f"Exceeded {state.faults.rate_limit_per_s:g} calls per second for api client. "
            "Reduce request rates to resume uninterrupted service.",
            headers={"Retry-After": retry_after},
        )
    allowed = {WRITE} if scope == WRITE else {READ, WRITE}
    if not allowed & shop.scopes:
        raise ShoplazzaError(403, f"The access token does not have the {scope} scope")
    return shop


def build_rest_router(state: ShoplazzaState) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    async def run(request: Request, api: str, scope: str, handler: Handler) -> Response:
        state.calls.served(api)
        body = await request.body()
        faults = state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.fail_next > 0:
            faults.fail_next -= 1
            return _failure(faults.fail_status)
        hang_after = False
        if faults.timeout_next > 0:
            faults.timeout_next -= 1
            if faults.timeout_after_commit:
                hang_after = True
            elif await hang(request, faults.hang_ms / 1000, state.release):
                return _gone()
        # No await from here to the handler's return: the call sees and changes the state
        # atomically with respect to every other request.
        try:
            shop = _authenticate(state, request, scope)
            call = Call(
                state=state,
                shop=shop,
                query=dict(request.query_params),
                body=body,
                content_type=request.headers.get("content-type", ""),
            )
            result = handler(call)
        except ShoplazzaError as error:
            return error_response(error)
        if call.committed and faults.drop_after_commit_next > 0:
            faults.drop_after_commit_next -= 1
            if faults.drop_mode == "close" and await drop_connection(request):
                return _gone()
            return _failure(500)
        if hang_after and await hang(request, faults.hang_ms / 1000, state.release):
            return _gone()
        state.calls.succeeded(api)
        return json_response(200, result)

    @router.get("/orders")
    async def list_orders(request: Request) -> Response:
        return await run(request, "GET /orders", READ, orders.list_orders)

    @router.get("/orders/count")
    async def count_orders(request: Request) -> Response:
        return await run(request, "GET /orders/count", READ, orders.count_orders)

    @router.get("/orders/number/{number}")
    async def get_order_by_number(number: str, request: Request) -> Response:
        handler = orders.get_order_by_number(number)
        return await run(request, "GET /orders/number/{number}", READ, handler)

    @router.get("/orders/{order_id}")
    async def get_order(order_id: str, request: Request) -> Response:
        return await run(request, "GET /orders/{id}", READ, orders.get_order(order_id))

    @router.post("/orders/{order_id}/cancel")
    async def cancel_order(order_id: str, request: Request) -> Response:
        handler = orders.cancel_order(order_id)
        return await run(request, "POST /orders/{id}/cancel", WRITE, handler)

    return router


def build_fallback_router() -> APIRouter:
    """Any other ``/openapi`` path or method: Shoplazza's 404 body, not FastAPI's."""
    router = APIRouter(include_in_schema=False)

    @router.api_route("/openapi/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def unknown(path: str) -> Response:
        return error_response(ShoplazzaError(404, NOT_FOUND))

    return router
