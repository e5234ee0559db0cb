"""``ShoplazzaClient``: the order calls we make on a shop, and how its answers map to errors."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from app.integrations import errors
from app.integrations.http import call_marketplace
from app.integrations.ratelimit import RateLimiter
from app.integrations.shoplazza.auth import ShoplazzaAuth
from app.integrations.shoplazza.schemas import ShoplazzaOrder

MARKETPLACE = "shoplazza"
API_PREFIX = "/openapi/2022-01"


def _message(body: Any, fallback: str) -> str:
    """Shoplazza answers errors as ``{"errors": [..]}``, ``{"errors": {field: [..]}}`` or
    ``{"error": ".."}``."""
    if isinstance(body, dict):
        found = body.get("errors", body.get("error", body.get("message")))
        if isinstance(found, str):
            return found
        if isinstance(found, list):
            return "; ".join(str(x) for x in found)
        if isinstance(found, dict):
            return "; ".join(
                f"{k}: {', '.join(map(str, v if isinstance(v, list) else [v]))}"
                for k, v in found.items()
            )
    return fallback


def raise_for_shoplazza(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content) if response.content else {}
    except orjson.JSONDecodeError:
        body = None
    status = response.status_code
    if 200 <= status < 300:
        if not isinstance(body, dict):
            raise errors.MarketplaceUnavailable("unreadable answer", marketplace=MARKETPLACE)
        return body
    message = _message(body, f"HTTP {status}")
    retry_after = _seconds(response.headers.get("Retry-After"))
    code = str(status)
    kind: type[errors.MarketplaceError]
    if status == 429:
        kind = errors.RateLimited
    elif status >= 500:
        kind = errors.MarketplaceUnavailable
    elif status in (401, 403):
        kind = errors.AuthError
    elif status == 404:
        kind = errors.RemoteNotFound
    else:  # 400, 406 (wrong state), 422 (bad parameters)
        kind = errors.Rejected
    raise kind(message, marketplace=MARKETPLACE, code=code, retry_after=retry_after)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class ShoplazzaClient:
    marketplace = MARKETPLACE

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        shop_domain: str,
        access_token: str,
        api_base: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._base = (api_base or f"https://{shop_domain}").rstrip("/") + API_PREFIX
        self._auth = ShoplazzaAuth(access_token)
        self._limiter = limiter

    async def _request(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        return await call_marketplace(
            MARKETPLACE,
            f"{method} {path}",
            lambda: self._http.request(method, self._base + path, json=json, auth=self._auth),
            raise_for_shoplazza,
            self._limiter,
        )

    async def get_order(self, order_id: str) -> ShoplazzaOrder:
        body = await self._request("GET", f"/orders/{order_id}")
        return ShoplazzaOrder.model_validate(body.get("order") or {})

    async def cancel_order(self, order_id: str, reason: str | None) -> ShoplazzaOrder:
        payload = {"reason": reason} if reason else {}
        body = await self._request("POST", f"/orders/{order_id}/cancel", json=payload)
        return ShoplazzaOrder.model_validate(body.get("order") or {})
