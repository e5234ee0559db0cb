"""``NeweggClient``: cancel an order, read its status, follow an SBN cancellation."""

from __future__ import annotations

import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from app.integrations import errors
from app.integrations.http import call_marketplace
from app.integrations.newegg.auth import NeweggAuth
from app.integrations.newegg.schemas import CancelResponse, OrderStatus, SbnResult
from app.integrations.ratelimit import RateLimiter

MARKETPLACE = "newegg"
API_HOST = "https://api.newegg.com"
SITE_PREFIX = {"us": "/marketplace", "b2b": "/marketplace/b2b", "ca": "/marketplace/can"}
VERSION = "304"
# Newegg states times in Pacific time.
PACIFIC = ZoneInfo("America/Los_Angeles")

_NOT_FOUND = {"SO003"}
_AUTH = {"InvalidConsumerKey", "InvalidToken", "AccessDenied"}


def parse_body(content: bytes) -> Any:
    """JSON, with the byte-order mark some Newegg answers start with."""
    return orjson.loads(content.removeprefix(b"\xef\xbb\xbf")) if content.strip() else None


def _parse_when(value: str) -> float | None:
    """An HTTP date, or Newegg's Pacific ``M/dd/yyyy h:mm:ss AM``, as an epoch timestamp."""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        pass
    try:
        local = datetime.strptime(value.strip(), "%m/%d/%Y %I:%M:%S %p")
    except ValueError:
        return None
    return local.replace(tzinfo=PACIFIC).timestamp()


def _reset_seconds(response: httpx.Response) -> float | None:
    """Seconds until the limit resets: ``Retry-After`` or ``X-RateLimit-ResetTime``."""
    for header in ("Retry-After", "X-RateLimit-ResetTime"):
        value = response.headers.get(header)
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            when = _parse_when(value)
            if when is None:
                continue
            return max(0.0, when - time.time())
        # An epoch timestamp, or a number of seconds.
        return max(0.0, number - time.time()) if number > 1e9 else number
    return None


def raise_for_newegg(response: httpx.Response) -> Any:
    status = response.status_code
    try:
        body = parse_body(response.content)
    except orjson.JSONDecodeError:
        body = None
    if 200 <= status < 300 and body is not None:
        return body
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else {}
    code = str(first.get("Code") or status)
    message = str(first.get("Message") or response.text[:200] or f"HTTP {status}")
    retry_after = _reset_seconds(response)
    kind: type[errors.MarketplaceError]
    if status == 429:
        kind = errors.RateLimited
    elif status >= 500 or (200 <= status < 300):
        kind = errors.MarketplaceUnavailable
    elif status in (401, 403) or code in _AUTH:
        kind = errors.AuthError
    elif code in _NOT_FOUND or status == 404:
        kind = errors.RemoteNotFound
    else:
        kind = errors.Rejected
    raise kind(message, marketplace=MARKETPLACE, code=code, retry_after=retry_after)


class NeweggClient:
    marketplace = MARKETPLACE

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        seller_id: str,
        site: str,
        api_key: str,
        secret_key: str,
        api_base: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._seller_id = seller_id
        self._base = (api_base or API_HOST).rstrip("/") + SITE_PREFIX[site]
        self._auth = NeweggAuth(api_key, secret_key)
        self._limiter = limiter

    async def _request(
        self, method: str, path: str, *, json: Any = None, version: bool = True
    ) -> Any:
        params = {"sellerid": self._seller_id}
        if version:
            params["version"] = VERSION
        return await call_marketplace(
            MARKETPLACE,
            f"{method} {path}",
            lambda: self._http.request(
                method,
                self._base + path,
                params=params,
                json=json,
                auth=self._auth,
                headers={"Accept": "application/json"},
            ),
            raise_for_newegg,
            self._limiter,
        )

    async def cancel_order(self, order_number: int, reason_code: int) -> CancelResponse:
        body = await self._request(
            "PUT",
            f"/ordermgmt/orderstatus/orders/{order_number}",
            json={"Action": 1, "Value": reason_code},
        )
        return CancelResponse.model_validate(body)

    async def get_order_status(self, order_number: int) -> OrderStatus:
        body = await self._request("GET", f"/ordermgmt/orderstatus/orders/{order_number}")
        return OrderStatus.model_validate(body)

    async def get_sbn_cancellation_result(self, order_number: int) -> SbnResult:
        body = await self._request(
            "GET", f"/ordermgmt/sbnorder/cancellationresult/{order_number}", version=False
        )
        return SbnResult.model_validate(body)
