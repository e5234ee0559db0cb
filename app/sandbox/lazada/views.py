"""How Lazada renders orders and order lines, mixed JSON types included.

Real responses don't follow the documented types (lazada.md §3.8): GetOrder gives ids as numbers,
``price`` as a string, ``shipping_fee`` and ``voucher`` as numbers and ``extra_attributes`` as a
JSON string. GetOrders and GetOrderItems document their ids as strings, GetMultipleOrderItems as
numbers; the sandbox follows each document so that clients learn to accept both.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from app.sandbox.lazada.models import (
    COUNTRY_CURRENCY,
    COUNTRY_UTC_OFFSET_H,
    Address,
    DateFormat,
    Item,
    Order,
    Seller,
)


def country_tz(country: str) -> timezone:
    return timezone(timedelta(hours=COUNTRY_UTC_OFFSET_H[country]))


def format_date(epoch_s: int, country: str, date_format: DateFormat) -> str:
    moment = datetime.fromtimestamp(epoch_s, country_tz(country))
    if date_format == "iso":
        return moment.isoformat()  # 2023-11-27T15:40:52+07:00
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")  # 2023-11-27 15:40:52 +0700


def parse_date(text: str, default_tz: timezone) -> float | None:
    """ISO-8601 (what GetOrders documents) or Lazada's own ``YYYY-MM-DD HH:mm:ss +ZZZZ``."""
    text = text.strip()
    moment: datetime | None = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    return moment.timestamp()


def _address(address: Address) -> dict[str, Any]:
    return {
        "first_name": address.first_name,
        "last_name": address.last_name,
        "phone": address.phone,
        "phone2": address.phone2,
        "address1": address.address1,
        "address2": address.address2,
        "address3": address.address3,
        "address4": address.address4,
        "address5": address.address5,
        "city": address.city,
        "post_code": address.post_code,
        "country": address.country,
        "addressDistrict": address.address_district,
    }


def render_order(order: Order, seller: Seller, *, ids_as_strings: bool = False) -> dict[str, Any]:
    date = partial(format_date, country=seller.country, date_format=order.date_format)
    order_id: int | str = str(order.order_id) if ids_as_strings else order.order_id
    return {
        "order_id": order_id,
        "order_number": order_id,
        "created_at": date(order.created_at),
        "updated_at": date(order.updated_at),
        "address_updated_at": date(order.created_at),
        "statuses": order.statuses,
        "items_count": len(order.items),
        "price": f"{order.price:.2f}",
        "shipping_fee": float(order.shipping_fee),
        "shipping_fee_original": float(order.shipping_fee),
        "shipping_fee_discount_seller": 0.0,
        "shipping_fee_discount_platform": 0.0,
        "voucher": float(order.voucher),
        "voucher_platform": 0.0,
        "voucher_seller": float(order.voucher),
        "voucher_code": "",
        "payment_method": order.payment_method,
        "customer_first_name": order.address.first_name,
        "customer_last_name": order.address.last_name,
        "address_shipping": _address(order.address),
        "address_billing": _address(order.address),
        "gift_option": False,
        "gift_message": "",
        "remarks": "",
        "delivery_info": "",
        "extra_attributes": order.extra_attributes,
        "branch_number": "",
        "tax_code": "",
        "national_registration_number": "",
        "promised_shipping_times": "",
        "warehouse_code": "dropshipping",
        "buyer_note": "",
        "need_cancel_confirm": False,
        "is_cancel_pending": False,
    }


def render_item(
    item: Item, order: Order, seller: Seller, *, order_id_as_string: bool = False
) -> dict[str, Any]:
    date = partial(format_date, country=seller.country, date_format=order.date_format)
    return {
        "order_item_id": item.order_item_id,
        "order_id": str(order.order_id) if order_id_as_string else order.order_id,
        "status": item.status,
        "name": item.name,
        "sku": item.sku,
        "shop_sku": item.shop_sku,
        "sku_id": item.sku_id,
        "product_id": item.product_id,
        "variation": item.variation,
        "item_price": float(item.item_price),
        "paid_price": float(item.paid_price),
        "currency": COUNTRY_CURRENCY[seller.country],
        "voucher_amount": float(item.voucher_amount),
        "voucher_seller": float(item.voucher_amount),
        "voucher_platform": 0.0,
        "shipping_amount": float(item.shipping_amount),
        "shipping_service_cost": 0,
        "tax_amount": float(item.tax_amount),
        "wallet_credits": 0.0,
        "package_id": item.package_id,
        "tracking_code": item.tracking_code,
        "tracking_code_pre": "",
        "shipment_provider": item.shipment_provider,
        "shipping_type": "Dropshipping",
        "shipping_provider_type": "standard",
        "created_at": date(item.created_at),
        "updated_at": date(item.updated_at),
        "promised_shipping_time": "",
        "reason": item.reason,
        "reason_detail": item.reason_detail,
        "cancel_return_initiator": item.cancel_return_initiator,
        "return_status": "",
        "is_digital": item.is_digital,
        "digital_delivery_info": "",
        "buyer_id": order.buyer_id,
        "shop_id": f"Sandbox shop {seller.seller_id}",
        "order_type": "Normal",
        "order_flag": "NORMAL",
        "invoice_number": "",
        "purchase_order_id": "",
        "purchase_order_number": "",
        "warehouse_code": "dropshipping",
        "extra_attributes": "null",
        "product_main_image": "",
        "product_detail_url": "",
        "voucher_code": "",
        "is_fbl": 0,
        "is_reroute": 0,
        "delivery_option_sof": 0,
        "need_cancel_confirm": False,
        "is_cancel_pending": False,
    }
