"""Newegg Marketplace API under ``/marketplace``, ``/marketplace/b2b`` and ``/marketplace/can``
(sites us, b2b, ca): faults, auth, throttling, dispatch.

Documented behaviour (shoplazza_newegg.md §B, Cancel Order seed): ``Authorization`` and
``SecretKey`` headers; ``sellerid`` query; XML or JSON; SO error codes in ``[{"Code","Message"}]``
lists with HTTP 400; 429 ``[{"Code":"429","Message":"Too many request."}]`` with
``X-RateLimit-Limit``/``-Remaining``/``-ResetTime``; per-function limits (cancel 1000/hour,
order status 500/hour, order information 1000/hour, SBN cancellation result 1000/minute).

Choices where the docs are silent:

* Checks run in this order: injected faults, ``Authorization`` (401 ``InvalidConsumerKey``),
  ``SecretKey`` (401 ``InvalidToken``: "Secret Key is null." / "Invalid secret key."),
  ``sellerid`` (401 ``InvalidToken`` when absent; 401 ``AccessDenied`` when it is not the key's
  seller or the seller is not enabled on the site: the docs' "seller ID invalid or not
  authorized"), throttling (429), then the call's own checks.
* Cancel: version (absent or 304), SO002, body (SO015 when absent or unparseable, or when
  ``Action``/``Value`` is missing), SO014 (Action not 1/2), Action 2 (Ship Order, not simulated)
  SO030, SO017, SO003 (unknown, another seller's or another site's order), a forced per-order
  code, SO008 (voided), SO027 (shipped), SO006 (partially shipped or invoiced, with the status).
* Seller-fulfilled unshipped order: voided at once, ``OrderStatus`` "Void", items cancelled.
  SBN order: a cancellation request is recorded and ``OrderStatus`` is "Processing"; repeating
  the cancel while it is pending answers "Processing" again and records nothing new. While
  pending, Get Order Status says code 99 "Processing"; Success voids the order, Failed leaves it
  Unshipped (a new cancel starts a new request).
* SBN result for an order without a request (or seller-fulfilled): SO003. ``ErrorMessage`` is
  "" unless Failed. ``OrderNumber`` is rendered as a string, as in the doc's JSON samples.
* Rate windows are per (seller, site, function), fixed, opened by their first call; every
  answer past the credential checks carries the three X-RateLimit headers. Refused calls do
  not count.
* Injected 503 is an HTML gateway page; injected 500 is ``[{"Code":"500",...}]``.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Request, Response

from app.sandbox.newegg import orders
from app.sandbox.newegg.errors import NeweggError, unauthorized
from app.sandbox.newegg.formats import render
from app.sandbox.newegg.models import SITE_PREFIX, Seller
from app.sandbox.newegg.orders import Call, Handler
from app.sandbox.newegg.state import NeweggState
from app.sandbox.wire import drop_connection, hang

CANCEL = "PUT /ordermgmt/orderstatus/orders/{ordernumber}"
STATUS = "GET /ordermgmt/orderstatus/orders/{ordernumber}"
SBN_RESULT = "GET /ordermgmt/sbnorder/cancellationresult/{ordernumber}"
ORDER_INFO = "PUT /ordermgmt/order/orderinfo"
HOUR, MINUTE = 3600, 60
LIMITS: dict[str, tuple[int, int]] = {
    CANCEL: (1000, HOUR),
    STATUS: (500, HOUR),
    ORDER_INFO: (1000, HOUR),
    SBN_RESULT: (1000, MINUTE),
}
OUTAGE_HTML = b"<html><body><h1>503 Service Unavailable</h1></body></html>"


def _authenticate(state: NeweggState, request: Request, site: str) -> Seller:
    api_key = request.headers.get("authorization", "").strip()
    seller = state.seller_for_key(api_key) if api_key else None
    if seller is None:
        raise unauthorized(
            "InvalidConsumerKey", "The provided consumer key is malformed or otherwise invalid."
        )
    secret = request.headers.get("secretkey", "").strip()
    if not secret:
        raise unauthorized("InvalidToken", "Secret Key is null.")
    if not hmac.compare_digest(secret.encode(), seller.secret_key.encode()):
        raise unauthorized("InvalidToken", "Invalid secret key.")
    seller_id = request.query_params.get("sellerid", "").strip()
    if not seller_id:
        raise unauthorized("InvalidToken", "SellerID is null.")
    if seller_id.lower() != seller.seller_id.lower() or site not in seller.sites:
        raise unauthorized("AccessDenied", "The seller ID is invalid or not authorized.")
    return seller


def _limit(state: NeweggState, api: str) -> tuple[int, int]:
    limit, period = LIMITS[api]
    faults = state.faults
    override = faults.rate_limit_per_hour if period == HOUR else faults.rate_limit_per_minute
    return (override or limit), period


def build_site_router(state: NeweggState, site: str) -> APIRouter:
    router = APIRouter(prefix=SITE_PREFIX[site], include_in_schema=False)

    def answer(
        request: Request, status: int, root: str, body: Any, headers: dict[str, str]
    ) -> Response:
        return render(request, status, root, body, bom=state.faults.bom, headers=headers)

    def failure(request: Request, status: int) -> Response:
        if status == 503:
            return Response(OUTAGE_HTML, status_code=503, media_type="text/html")
        body = [{"Code": "500", "Message": "Internal Server Error"}]
        return answer(request, 500, "Errors", body, {})

    async def run(request: Request, api: str, handler: Handler) -> Response:
        state.calls.served(api)
        body = await request.body()
        faults = state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.fail_next > 0:
            faults.fail_next -= 1
            return failure(request, faults.fail_status)
        hang_after = False
        if faults.timeout_next > 0:
            faults.timeout_next -= 1
            if faults.timeout_after_commit:
                hang_after = True
            elif await hang(request, faults.hang_ms / 1000, state.release):
                return Response(status_code=500)  # nobody is left to read it
        # No await from here to the handler's return: the call sees and changes the state
        # atomically with respect to every other request.
        headers: dict[str, str] = {}
        try:
            seller = _authenticate(state, request, site)
            if faults.rate_limit:
                headers = state.take_rate(seller, site, api, *_limit(state, api))
            call = Call(
                state=state,
                seller=seller,
                site=site,
                query=dict(request.query_params),
                body=body,
                content_type=request.headers.get("content-type", ""),
            )
            root, result = handler(call)
        except NeweggError as error:
            headers.update(error.headers)
            return answer(request, error.status, "Errors", error.body(), headers)
        if call.committed and faults.drop_after_commit_next > 0:
            faults.drop_after_commit_next -= 1
            if faults.drop_mode == "close" and await drop_connection(request):
                return Response(status_code=500)
            return failure(request, 500)
        if hang_after and await hang(request, faults.hang_ms / 1000, state.release):
            return Response(status_code=500)
        state.calls.succeeded(api)
        return answer(request, 200, root, result, headers)

    @router.put("/ordermgmt/orderstatus/orders/{ordernumber}")
    async def cancel_order(ordernumber: str, request: Request) -> Response:
        return await run(request, CANCEL, orders.cancel_order(ordernumber))

    @router.get("/ordermgmt/orderstatus/orders/{ordernumber}")
    async def get_order_status(ordernumber: str, request: Request) -> Response:
        return await run(request, STATUS, orders.get_order_status(ordernumber))

    @router.get("/ordermgmt/sbnorder/cancellationresult/{ordernumber}")
    async def get_sbn_result(ordernumber: str, request: Request) -> Response:
        return await run(request, SBN_RESULT, orders.get_sbn_cancellation_result(ordernumber))

    @router.put("/ordermgmt/order/orderinfo")
    async def get_order_info(request: Request) -> Response:
        return await run(request, ORDER_INFO, orders.get_order_info)

    return router
