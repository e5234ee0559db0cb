"""Lazada's wire formats, parsed leniently: its numbers come as strings or numbers, its dates in
two formats, its ids as strings or 64-bit numbers (lazada.md §3.8)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.integrations.base import FetchedItem, FetchedOrder
from app.kit.text import is_ascii_digits


def _to_str(value: Any) -> Any:
    if value == "":
        return None  # Lazada sends "" for "not set"
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _to_decimal(value: Any) -> Any:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        return None


def parse_lazada_datetime(value: Any) -> datetime | None:
    """``2023-11-27 15:40:52 +0700`` (Lazada's usual), ISO-8601, or epoch seconds/ms."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) or (isinstance(value, str) and is_ascii_digits(value)):
        number = float(value)
        return datetime.fromtimestamp(number / 1000 if number > 1e12 else number, tz=UTC)
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


Str = Annotated[str, BeforeValidator(_to_str)]
OptStr = Annotated[str | None, BeforeValidator(_to_str)]
Money = Annotated[Decimal | None, BeforeValidator(_to_decimal)]
When = Annotated[datetime | None, BeforeValidator(parse_lazada_datetime)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class LazadaAddress(_Wire):
    address1: OptStr = None
    address3: OptStr = None
    address4: OptStr = None
    address5: OptStr = None
    city: OptStr = None
    post_code: OptStr = None
    country: OptStr = None


class LazadaOrder(_Wire):
    order_id: Str
    order_number: OptStr = None
    statuses: list[str] = Field(default_factory=list)
    price: Money = None
    voucher: Money = None
    shipping_fee: Money = None
    payment_method: OptStr = None
    created_at: When = None
    updated_at: When = None
    address_shipping: LazadaAddress | None = None


class LazadaOrderItem(_Wire):
    order_item_id: Str
    order_id: OptStr = None
    status: Str
    sku: OptStr = None
    shop_sku: OptStr = None
    name: OptStr = None
    item_price: Money = None
    paid_price: Money = None
    currency: OptStr = None
    package_id: OptStr = None
    tracking_code: OptStr = None
    shipment_provider: OptStr = None
    created_at: When = None
    updated_at: When = None


class LazadaOrderPage(_Wire):
    """One page of GetOrders (``/orders/get``): ``countTotal`` counts the whole filter."""

    count_total: int = Field(default=0, alias="countTotal")
    count: int = 0
    orders: list[LazadaOrder] = Field(default_factory=list)
    raw_orders: list[dict[str, Any]] = Field(default_factory=list, exclude=True)


class LazadaOrderItems(_Wire):
    """One order's items in a GetMultipleOrderItems (``/orders/items/get``) answer."""

    order_id: Str
    order_number: OptStr = None
    order_items: list[LazadaOrderItem] = Field(default_factory=list)
    raw_items: list[dict[str, Any]] = Field(default_factory=list, exclude=True)


class LazadaReasonOption(_Wire):
    reason_id: Str
    reason_name: str


class LazadaCancelValidation(_Wire):
    tip_type: OptStr = None
    tip_content: OptStr = None
    reason_options: list[LazadaReasonOption] = Field(default_factory=list)


class LazadaCancelResult(_Wire):
    tip_type: OptStr = None
    tip_content: OptStr = None


class LazadaToken(_Wire):
    access_token: str
    refresh_token: str
    expires_in: int | None = None
    refresh_expires_in: int | None = None


def to_domain(
    order: LazadaOrder,
    items: list[LazadaOrderItem],
    raw_order: dict[str, Any],
    raw_items: list[dict[str, Any]],
) -> FetchedOrder:
    address = order.address_shipping or LazadaAddress()
    buyer_paid = None
    if order.price is not None:
        # The get-order guide's formula: buyer paid = price - voucher + shipping_fee.
        buyer_paid = order.price - (order.voucher or 0) + (order.shipping_fee or 0)
    raw_by_id = {_to_str(raw.get("order_item_id")): raw for raw in raw_items}
    return FetchedOrder(
        external_order_id=order.order_id,
        order_number=order.order_number,
        updated_at=order.updated_at,
        placed_at=order.created_at,
        currency=next((item.currency for item in items if item.currency), None),
        price=order.price,
        voucher=order.voucher,
        shipping_fee=order.shipping_fee,
        buyer_paid=buyer_paid,
        payment_method=order.payment_method,
        shipping_address=address.address1,
        shipping_state=address.address3,
        shipping_city=address.address4 or address.city,
        shipping_post_code=address.address5 or address.post_code,
        shipping_country=address.country,
        raw_order=raw_order,
        raw_items=raw_items,
        items=[
            FetchedItem(
                external_item_id=item.order_item_id,
                status=item.status,
                status_updated_at=item.updated_at,
                sku=item.sku,
                shop_sku=item.shop_sku,
                name=item.name,
                item_price=item.item_price,
                paid_price=item.paid_price,
                currency=item.currency,
                package_id=item.package_id,
                tracking_code=item.tracking_code,
                shipment_provider=item.shipment_provider,
                raw=raw_by_id.get(item.order_item_id, {}),
            )
            for item in items
        ],
    )


def orders_to_domain(
    page: LazadaOrderPage, items: Mapping[str, LazadaOrderItems]
) -> list[FetchedOrder]:
    """A GetOrders page joined with GetMultipleOrderItems answers, as ``to_domain`` records.

    An order whose items did not come back is left out: storing it without items would read as
    "this order has none". Its next pull or push fetches it whole.
    """
    fetched = []
    for order, raw_order in zip(page.orders, page.raw_orders, strict=True):
        entry = items.get(order.order_id)
        if entry is None or not entry.order_items:
            continue
        fetched.append(to_domain(order, entry.order_items, raw_order, entry.raw_items))
    return fetched
