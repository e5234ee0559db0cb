"""Get Order Information's order rendering: the fields of the official SDK's sample, numbers as
strings as that sample has them, item and package lists as JSON lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.sandbox.newegg.formats import pacific_date
from app.sandbox.newegg.models import ITEM_STATUS_DESCRIPTION, STATUS_DESCRIPTION, Order


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def render_order_info(order: Order) -> dict[str, Any]:
    code = order.status_code
    items_total = sum((i.unit_price * i.quantity for i in order.items), Decimal(0))
    shipped = [i for i in order.items if i.shipped_qty]
    return {
        "SellerID": order.seller_id,
        "OrderNumber": str(order.order_number),
        "SellerOrderNumber": "",
        "InvoiceNumber": str(order.order_number + 7) if order.status == "Invoiced" else "0",
        "OrderDownloaded": "true" if order.downloaded else "false",
        "OrderDate": pacific_date(order.order_date),
        "OrderStatus": str(code),
        "OrderStatusDescription": STATUS_DESCRIPTION[code],
        "CustomerName": "Sandbox Buyer",
        "CustomerPhoneNumber": "000-000-0000",
        "CustomerEmailAddress": f"buyer{order.order_number}@marketplace.newegg.invalid",
        "ShipToAddress1": "1 Sandbox Way",
        "ShipToAddress2": "",
        "ShipToCityName": "Sandbox City",
        "ShipToStateCode": "CA",
        "ShipToZipCode": "90001",
        "ShipToCountryCode": "CANADA" if order.site == "ca" else "UNITED STATES",
        "ShipService": "Standard Shipping (5-7 business days)",
        "ShipToFirstName": "Sandbox",
        "ShipToLastName": "Buyer",
        "ShipToCompany": "",
        "OrderItemAmount": _money(items_total),
        "ShippingAmount": _money(order.shipping_amount),
        "DiscountAmount": "0.00",
        "RefundAmount": "0",
        "SalesTax": "",
        "VATTotal": "",
        "DutyTotal": "",
        "OrderTotalAmount": _money(items_total + order.shipping_amount),
        "OrderQty": str(sum(i.quantity for i in order.items)),
        "IsAutoVoid": "false",
        "SalesChannel": "0",
        "FulfillmentOption": "1" if order.fulfillment == "sbn" else "0",
        "ItemInfoList": [
            {
                "SellerPartNumber": item.seller_part_number,
                "NeweggItemNumber": item.newegg_item_number,
                "MfrPartNumber": item.mfr_part_number,
                "UPCCode": "",
                "Description": item.description,
                "OrderedQty": str(item.quantity),
                "ShippedQty": str(item.shipped_qty),
                "UnitPrice": _money(item.unit_price),
                "ExtendUnitPrice": _money(item.unit_price * item.quantity),
                "ExtendShippingCharge": "0.00",
                "ExtendSalesTax": "",
                "ExtendVAT": "",
                "ExtendDuty": "",
                "Status": str(item.status),
                "StatusDescription": ITEM_STATUS_DESCRIPTION[item.status],
            }
            for item in order.items
        ],
        "PackageInfoList": [
            {
                "PackageType": "Shipped",
                "ShipCarrier": "UPS",
                "ShipService": "Ground",
                "TrackingNumber": f"1Z{order.order_number:016d}",
                "ShipDate": pacific_date(order.order_date),
                "ItemInfoList": [
                    {
                        "SellerPartNumber": item.seller_part_number,
                        "MfrPartNumber": item.mfr_part_number,
                        "ShippedQty": str(item.shipped_qty),
                    }
                    for item in shipped
                ],
            }
        ]
        if shipped
        else [],
    }
