"""``LazadaClient``: one method per Lazada API we call, typed answers, one error mapping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import orjson

from app.integrations import errors
from app.integrations.base import FetchedOrder
from app.integrations.http import call_marketplace
from app.integrations.lazada.auth import LazadaSigner
from app.integrations.lazada.schemas import (
    LazadaCancelResult,
    LazadaCancelValidation,
    LazadaOrder,
    LazadaOrderItem,
    LazadaOrderItems,
    LazadaOrderPage,
    LazadaToken,
    to_domain,
)
from app.integrations.ratelimit import RateLimiter

MARKETPLACE = "lazada"

GATEWAYS = {
    "sg": "https://api.lazada.sg/rest",
    "th": "https://api.lazada.co.th/rest",
    "my": "https://api.lazada.com.my/rest",
    "vn": "https://api.lazada.vn/rest",
    "ph": "https://api.lazada.com.ph/rest",
    "id": "https://api.lazada.co.id/rest",
}
AUTH_GATEWAY = "https://auth.lazada.com/rest"
REFRESH_TIMEOUT = 60.0

# Codes that mean "slow down" (lazada.md §5: 901 is documented, the rest seen in the field).
_THROTTLE_CODES = {"ApiCallLimit", "901", "IopSystemFlowlimit", "ServiceCurrentlimit"}
_UNAVAILABLE_CODES = {"ServiceTimeout", "ServiceUnavailable", "6", "InternalError"}
_AUTH_CODES = {"IncompleteSignature", "APP_KEY_INVALID", "InvalidAppKey", "SellerNotVerified"}
_NOT_FOUND_CODES = {"16", "122"}

# GetOrders and GetMultipleOrderItems limits (lazada.md §3.1, §3.4; the stricter figure where
# two documents disagree).
MAX_ORDERS_PAGE = 100
MAX_ORDERS_OFFSET = 4500
MAX_MULTI_ORDER_IDS = 50


def raise_for_lazada(response: httpx.Response) -> dict[str, Any]:
    """The body of a successful answer, or the matching ``MarketplaceError``.

    Lazada reports errors inside HTTP 200 bodies (``code`` other than ``"0"``), so the status
    line alone says little; this is the one place that reads both.
    """
    retry_after = _retry_after(response)
    if response.status_code == 429:
        raise errors.RateLimited("HTTP 429", marketplace=MARKETPLACE, retry_after=retry_after)
    if response.status_code >= 500:
        raise errors.MarketplaceUnavailable(
            f"HTTP {response.status_code}", marketplace=MARKETPLACE, retry_after=retry_after
        )
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise errors.MarketplaceUnavailable(
            f"unreadable answer (HTTP {response.status_code})", marketplace=MARKETPLACE
        ) from None
    if not isinstance(body, dict):
        raise errors.MarketplaceUnavailable("answer is not an object", marketplace=MARKETPLACE)
    code = str(body.get("code", "0"))
    if code == "0":
        return body
    message = str(body.get("message") or body.get("msg") or code)
    kind: type[errors.MarketplaceError]
    if code == "IllegalAccessToken":
        kind = errors.AccessTokenInvalid
    elif code in {"IllegalRefreshToken", "AUTH_TYPE_UNSUPPORTED"}:
        kind = errors.RefreshTokenInvalid
    elif code in _THROTTLE_CODES or "limit" in code.lower():
        kind = errors.RateLimited
    elif code in _UNAVAILABLE_CODES or body.get("type") == "SYSTEM":
        kind = errors.MarketplaceUnavailable
    elif code in _AUTH_CODES:
        kind = errors.AuthError
    elif code in _NOT_FOUND_CODES:
        kind = errors.RemoteNotFound
    else:
        kind = errors.Rejected
    raise kind(message, marketplace=MARKETPLACE, code=code, retry_after=retry_after)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


class LazadaClient:
    """Calls one seller's Lazada APIs through a shared ``httpx.AsyncClient``."""

    marketplace = MARKETPLACE

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        app_key: str,
        app_secret: str,
        country: str,
        access_token: str | None = None,
        api_base: str | None = None,
        auth_base: str | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http = http
        self._app_key = app_key
        self._app_secret = app_secret
        self._access_token = access_token
        self._api_base = (api_base or GATEWAYS[country]).rstrip("/")
        self._auth_base = (auth_base or AUTH_GATEWAY).rstrip("/")
        self._limiter = limiter

    async def _call(
        self,
        base: str,
        api_path: str,
        params: dict[str, str],
        *,
        signed_token: bool = True,
        wait: float | None = None,
    ) -> dict[str, Any]:
        auth = LazadaSigner(
            app_key=self._app_key,
            app_secret=self._app_secret,
            access_token=self._access_token if signed_token else None,
            api_prefix=httpx.URL(base).path,
        )
        return await call_marketplace(
            MARKETPLACE,
            api_path,
            lambda: self._http.get(
                base + api_path,
                params=params,
                auth=auth,
                timeout=httpx.USE_CLIENT_DEFAULT if wait is None else wait,
            ),
            raise_for_lazada,
            self._limiter,
        )

    async def get_order(self, order_id: str) -> tuple[LazadaOrder, dict[str, Any]]:
        body = await self._call(self._api_base, "/order/get", {"order_id": order_id})
        raw = body.get("data") or {}
        return LazadaOrder.model_validate(raw), raw

    async def get_order_items(
        self, order_id: str
    ) -> tuple[list[LazadaOrderItem], list[dict[str, Any]]]:
        body = await self._call(self._api_base, "/order/items/get", {"order_id": order_id})
        raw = body.get("data") or []
        return [LazadaOrderItem.model_validate(item) for item in raw], raw

    async def fetch_order(self, order_id: str) -> FetchedOrder:
        order, raw_order = await self.get_order(order_id)
        items, raw_items = await self.get_order_items(order_id)
        return to_domain(order, items, raw_order, raw_items)

    async def get_orders(
        self,
        *,
        update_after: datetime,
        update_before: datetime | None = None,
        offset: int = 0,
        limit: int = MAX_ORDERS_PAGE,
        sort_direction: Literal["ASC", "DESC"] = "ASC",
    ) -> LazadaOrderPage:
        """GetOrders by update time, sorted by ``updated_at`` (lazada.md §3.1)."""
        if not 1 <= limit <= MAX_ORDERS_PAGE:
            raise ValueError(f"limit must be 1..{MAX_ORDERS_PAGE}")
        if not 0 <= offset <= MAX_ORDERS_OFFSET:
            raise ValueError(f"offset must be 0..{MAX_ORDERS_OFFSET}")
        params = {
            "update_after": _iso(update_after),
            "sort_by": "updated_at",
            "sort_direction": sort_direction,
            "offset": str(offset),
            "limit": str(limit),
        }
        if update_before is not None:
            params["update_before"] = _iso(update_before)
        body = await self._call(self._api_base, "/orders/get", params)
        data = body.get("data") or {}
        raw_orders = [o for o in data.get("orders") or [] if isinstance(o, dict)]
        page = LazadaOrderPage.model_validate({**data, "orders": raw_orders})
        page.raw_orders = raw_orders
        return page

    async def get_multiple_order_items(
        self, order_ids: Sequence[str]
    ) -> dict[str, LazadaOrderItems]:
        """GetMultipleOrderItems for up to 50 orders, by order id. When none is found (error 39)
        the answer is empty; when only some are, Lazada fails the call (error 37, ``Rejected``),
        and the caller tells them apart."""
        if not order_ids:
            return {}
        if len(order_ids) > MAX_MULTI_ORDER_IDS:
            raise ValueError(f"at most {MAX_MULTI_ORDER_IDS} order ids per call")
        try:
            body = await self._call(
                self._api_base, "/orders/items/get", {"order_ids": _id_list(list(order_ids))}
            )
        except errors.Rejected as exc:
            if exc.code == "39":
                return {}
            raise
        result: dict[str, LazadaOrderItems] = {}
        for raw in body.get("data") or []:
            if not isinstance(raw, dict):
                continue
            raw_items = [i for i in raw.get("order_items") or [] if isinstance(i, dict)]
            entry = LazadaOrderItems.model_validate({**raw, "order_items": raw_items})
            entry.raw_items = raw_items
            result[entry.order_id] = entry
        return result

    async def refresh_access_token(self, refresh_token: str) -> LazadaToken:
        """A refresh retires the old refresh token: an answer lost to an impatient timeout would
        leave us with none that works, so this one call waits much longer than the others."""
        body = await self._call(
            self._auth_base,
            "/auth/token/refresh",
            {"refresh_token": refresh_token},
            signed_token=False,
            wait=REFRESH_TIMEOUT,
        )
        return LazadaToken.model_validate(body)

    async def validate_cancel(self, order_id: str, item_ids: list[str]) -> LazadaCancelValidation:
        """OrderCancelValidate: can these items be cancelled, and for which reasons."""
        body = await self._call(
            self._api_base,
            "/order/reverse/cancel/validate",
            {"order_id": order_id, "order_item_id_list": _id_list(item_ids)},
        )
        return LazadaCancelValidation.model_validate(body.get("data") or {})

    async def cancel(
        self, order_id: str, item_ids: list[str], reason_id: str
    ) -> LazadaCancelResult:
        """InitReverseOrderCancel. A packed item takes its whole package with it."""
        body = await self._call(
            self._api_base,
            "/order/reverse/cancel/create",
            {
                "order_id": order_id,
                "order_item_id_list": _id_list(item_ids),
                "reason_id": reason_id,
            },
        )
        return LazadaCancelResult.model_validate(body.get("data") or {})


def _iso(moment: datetime) -> str:
    """GetOrders' date format, ``YYYY-MM-DDTHH:mm:ss±HH:MM``, in UTC, whole seconds (Lazada's
    resolution; truncating keeps an inclusive lower bound inclusive)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _id_list(ids: list[str]) -> str:
    """Lazada's list format, signed exactly as sent: ``[1,2]``."""
    return "[" + ",".join(ids) + "]"
