from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Path
from pydantic import Field

from app.kit.schemas import Schema

# A marketplace's order id: Lazada's and Newegg's are numbers, Shoplazza's letters, digits and
# "-"; at most 64 characters, what every column holding one takes.
ORDER_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$"
OrderIdPath = Annotated[
    str,
    Path(
        pattern=ORDER_ID_PATTERN,
        max_length=64,
        examples=["446156718969495"],
        description="The marketplace's order id (letters, digits, `-` and `_`).",
    ),
]


class StatusChange(Schema):
    from_status: str | None = Field(description="Null for the first status we saw.")
    to_status: str
    observed_at: datetime | None = Field(description="When the marketplace says it changed.")
    recorded_at: datetime = Field(description="When we stored it.")
    source: str = Field(examples=["lazada.sync"])


class OrderItem(Schema):
    order_item_id: str = Field(validation_alias="external_item_id", examples=["446156719069495"])
    status: str = Field(examples=["pending"])
    status_updated_at: datetime | None
    sku: str | None
    shop_sku: str | None
    name: str | None
    item_price: Decimal | None
    paid_price: Decimal | None
    currency: str | None
    package_id: str | None
    tracking_code: str | None
    shipment_provider: str | None


class OrderItemWithHistory(OrderItem):
    history: list[StatusChange]


class ShippingAddress(Schema):
    address: str | None = Field(description="Lazada address1: the detailed address.")
    state: str | None = Field(description="Lazada address3.")
    city: str | None = Field(description="Lazada address4.")
    post_code: str | None = Field(description="Lazada address5.")
    country: str | None


class OrderBase(Schema):
    account_id: uuid.UUID
    order_id: str = Field(validation_alias="external_order_id", examples=["446156718969495"])
    order_number: str | None
    item_statuses: list[str] = Field(
        description="The distinct statuses of the order's items (Lazada has no order status)."
    )
    currency: str | None
    price: Decimal | None = Field(description="Total before vouchers and shipping.")
    voucher: Decimal | None
    shipping_fee: Decimal | None
    buyer_paid: Decimal | None = Field(description="price - voucher + shipping_fee.")
    payment_method: str | None
    shipping_address: ShippingAddress
    placed_at: datetime | None
    marketplace_updated_at: datetime | None
    last_synced_at: datetime
    created_at: datetime
    updated_at: datetime = Field(description="When we last changed this order.")

    @classmethod
    def address_of(cls, order: Any) -> ShippingAddress:
        return ShippingAddress(
            address=order.shipping_address,
            state=order.shipping_state,
            city=order.shipping_city,
            post_code=order.shipping_post_code,
            country=order.shipping_country,
        )


class OrderSummary(OrderBase):
    items: list[OrderItem]


class Order(OrderBase):
    items: list[OrderItemWithHistory]
    raw: dict[str, Any] = Field(description="The marketplace's answers, unchanged.")


def order_summary(order: Any) -> OrderSummary:
    return OrderSummary.model_validate(
        {
            **{k: getattr(order, k) for k in OrderBase.model_fields if hasattr(order, k)},
            "external_order_id": order.external_order_id,
            "shipping_address": OrderBase.address_of(order),
            "items": [OrderItem.model_validate(item) for item in order.items],
        }
    )


def order_detail(order: Any) -> Order:
    return Order.model_validate(
        {
            **{k: getattr(order, k) for k in OrderBase.model_fields if hasattr(order, k)},
            "external_order_id": order.external_order_id,
            "shipping_address": OrderBase.address_of(order),
            "items": [OrderItemWithHistory.model_validate(item) for item in order.items],
            "raw": {"order": order.raw_order, "items": order.raw_items},
        }
    )
