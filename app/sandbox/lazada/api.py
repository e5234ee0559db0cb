"""The Lazada REST gateway under ``/rest``: parameters, faults, signature, token, dispatch.

Checks run in the gateway's order: missing common parameters, app key, timestamp, signature,
access token, then the API itself. Every answer, error or not, is HTTP 200 with Lazada's JSON
envelope; only the injected outages use another status.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from datetime import UTC
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request, Response

from app.integrations.lazada.signing import rest_sign
from app.sandbox.lazada import auth, cancel, orders
from app.sandbox.lazada.call import Call, Handler
from app.sandbox.lazada.errors import LazadaError, invalid, missing, request_id, throttled
from app.sandbox.lazada.models import Seller
from app.sandbox.lazada.pusher import Pusher
from app.sandbox.lazada.state import SandboxState
from app.sandbox.lazada.views import parse_date

MAX_CLOCK_SKEW_S = 7200

# path -> (handler, needs a seller's access token)
APIS: dict[str, tuple[Handler, bool]] = {
    "/order/get": (orders.get_order, True),
    "/order/items/get": (orders.get_order_items, True),
    "/orders/get": (orders.get_orders, True),
    "/orders/items/get": (orders.get_multiple_order_items, True),
    "/order/reverse/cancel/validate": (cancel.validate, True),
    "/order/reverse/cancel/create": (cancel.create, True),
    "/auth/token/refresh": (auth.refresh_token, False),
    "/auth/token/create": (auth.create_token, False),
}

OUTAGE_BODY = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"


async def read_params(request: Request) -> dict[str, str]:
    """Query string and urlencoded form, merged (form wins), exactly as sent: the signature
    covers every parameter, so nothing may be dropped or normalised."""
    params = dict(parse_qsl(request.url.query, keep_blank_values=True))
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", errors="replace")
        params.update(parse_qsl(body, keep_blank_values=True))
    return params


def _check_timestamp(raw: str) -> None:
    if raw.isdigit():
        sent = int(raw) / 1000  # Lazada's timestamps are epoch milliseconds
    else:
        parsed = parse_date(raw, UTC)
        if parsed is None:
            raise invalid("timestamp")
        sent = parsed
    # Compared with the real clock: clients stamp requests with theirs, whatever the sandbox
    # clock says.
    if abs(time.time() - sent) > MAX_CLOCK_SKEW_S:
        raise invalid("timestamp")


def authenticate(
    state: SandboxState, api: str, params: dict[str, str], needs_token: bool
) -> Seller | None:
    for name in ("app_key", "timestamp", "sign"):
        if not params.get(name):
            raise missing(name)
    if params["app_key"] != state.app_key:
        raise LazadaError("APP_KEY_INVALID", "The specified app key is invalid")
    if params.get("sign_method", "sha256").lower() != "sha256":
        raise invalid("sign_method")
    _check_timestamp(params["timestamp"])
    expected = rest_sign(state.app_secret, api, {k: v for k, v in params.items() if k != "sign"})
    sent = params["sign"].strip().upper()
    if not hmac.compare_digest(expected.encode(), sent.encode("utf-8", errors="replace")):
        raise LazadaError(
            "IncompleteSignature", "The request signature does not conform to lazop standards"
        )
    if not needs_token:
        return None
    token = params.get("access_token", "")
    if not token:
        raise missing("access_token")
    return state.seller_for_access_token(token)


WRITE_APIS = frozenset({"/order/reverse/cancel/create"})


def _json(body: dict[str, Any]) -> Response:
    return Response(content=orjson.dumps(body), media_type="application/json")


def _injected_fault(state: SandboxState) -> Response | None:
    faults = state.faults
    if faults.fail_next > 0:
        faults.fail_next -= 1
        return Response(OUTAGE_BODY, status_code=503, media_type="text/html")
    if faults.error_rate and state.rng.random() < faults.error_rate:
        return Response(OUTAGE_BODY, status_code=503, media_type="text/html")
    if faults.throttle_next > 0:
        faults.throttle_next -= 1
        return _json(throttled(faults.throttle_code).envelope())
    return None


def build_rest_router(state: SandboxState, pusher: Pusher) -> APIRouter:
    router = APIRouter(prefix="/rest")

    @router.api_route("/{api_path:path}", methods=["GET", "POST"], include_in_schema=False)
    async def rest(api_path: str, request: Request) -> Response:
        api = "/" + api_path.strip("/")
        params = await read_params(request)
        state.calls.served(api, state.seller_of(params))
        if state.faults.latency_ms:
            await asyncio.sleep(state.faults.latency_ms / 1000)
        # From here to the response there is no await: the call sees and changes the state
        # atomically with respect to every other request.
        fault = _injected_fault(state)
        if fault is not None:
            return fault
        try:
            if api not in APIS:
                raise LazadaError("InvalidApiPath", "The specified API path is invalid")
            handler, needs_token = APIS[api]
            seller = authenticate(state, api, params, needs_token)
            call = Call(state=state, params=params, seller=seller)
            body = handler(call)
        except LazadaError as error:
            return _json(error.envelope())
        state.calls.succeeded(api)
        pusher.send_later(call.pushes)
        if api in WRITE_APIS and state.faults.drop_after_commit_next > 0:
            state.faults.drop_after_commit_next -= 1
            return Response(OUTAGE_BODY, status_code=503, media_type="text/html")
        return _json({**body, "request_id": request_id()})

    return router
