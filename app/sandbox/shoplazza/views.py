"""How Shoplazza 2022-01 renders an order: the fields of the Cancel Order doc's response table
(money as strings, timestamps as ISO-8601 UTC, unset timestamps as null)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from app.sandbox.shoplazza.models import LineItem, Order

ZERO = "0.00"


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(order: Order) -> dict[str, Any]:
    return {
        "first_name": "Sandbox",
        "last_name": "Buyer",
        "name": "Sandbox Buyer",
        "phone": "+10000000000",
        "email": order.email,
        "address1": "1 Sandbox Way",
        "address2": "",
        "city": "Sandbox City",
        "province": "California",
        "province_code": "CA",
        "country": "United States",
        "country_code": "US",
        "zip": "90001",
        "company": "",
    }


def render_line_item(item: LineItem, order: Order) -> dict[str, Any]:
    return {
        "id": item.id,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "product_title": item.title,
        "variant_title": item.variant_title,
        "title": item.title,
        "sku": item.sku,
        "quantity": item.quantity,
        "price": money(item.price),
        "total": money(item.price * item.quantity),
        "compare_at_price": money(item.price),
        "fulfillment_status": order.fulfillment_status,
    }


def render_order(order: Order, shop_domain: str) -> dict[str, Any]:
    sub_total = sum((i.price * i.quantity for i in order.line_items), Decimal(0))
    paid = order.placed_at is not None
    return {
        "id": order.id,
        "number": order.number,
        "note": order.note,
        "status": order.status,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "email_status": "waiting",
        "cancel_reason": order.cancel_reason,
        "recovery_status": "waiting",
        "payment_method": order.payment_method,
        "discount_applications": [],
        "customer_note": "",
        "buyer_accepts_marketing": False,
        "currency": order.currency,
        "total_price": money(order.total_price),
        "sub_total": money(sub_total),
        "total_discount": ZERO,
        "total_tax": ZERO,
        "total_shipping": ZERO,
        "code_discount_total": ZERO,
        "gift_card_total": ZERO,
        "total_refund_price": money(order.total_refund_price),
        "additional_total": ZERO,
        "addtional_prices": [],  # sic: the documented field name
        "shipping_tax_total": ZERO,
        "customer_deleted_at": None,
        "created_at": stamp(order.created_at),
        "updated_at": stamp(order.updated_at),
        "deleted_at": None,
        "canceled_at": stamp(order.canceled_at),
        "placed_at": stamp(order.placed_at),
        "total_tip_received": ZERO,
        "tags": "",
        "total_paid": money(order.total_price) if paid else ZERO,
        "shipping_line": {"name": "Standard Shipping"},
        "customer": {
            "id": f"cus-{order.id}",
            "email": order.email,
            "first_name": "Sandbox",
            "last_name": "Buyer",
        },
        "shipping_address": _address(order),
        "billing_address": _address(order),
        "payment_line": {"payment_channel": order.payment_method, "payment_method": "card"},
        "line_items": [render_line_item(item, order) for item in order.line_items],
        "fulfillments": [],
        "logistics_code": "",
        "refer_info": "",
        "config": {"product_tax_included": False},
        "checkout_url": f"https://{shop_domain}/checkout/{order.id}",
        "location_line": {},
        "invoice_url": f"/checkout/{order.id}",
    }
