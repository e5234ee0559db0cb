"""OrderCancelValidate and InitReverseOrderCancel (lazada.md §3.5-3.6, Order Cancellation guide).

Reason ids differ per country ("The reason_id may be different for each country"). Singapore's
first three are the guide's; every other id here is invented, in the same style, so that a client
which hard-codes Singapore's ids fails in other countries as it would against Lazada.
"""

from __future__ import annotations

from typing import Any

from app.sandbox.lazada.call import Call, ok, order_id_param, parse_id_list
from app.sandbox.lazada.errors import LazadaError, require
from app.sandbox.lazada.models import CANCELLABLE_STATUSES, PACKAGED_STATUSES, Item, Order
from app.sandbox.lazada.pusher import pushes_for

_REASON_NAMES = (
    "Sourcing Delay",
    "Out of Stock",
    "Wrong Price or Pricing Error",
    "Customer Requested Cancellation",
    "Unable to fulfil order",
)
_FIRST_REASON_ID = {
    "sg": 10000019,
    "my": 20000019,
    "th": 30000019,
    "vn": 40000019,
    "ph": 50000019,
    "id": 60000019,
}

VALIDATE_TIP = (
    "SKU stock may be set to 0* after cancellation due to reasons: 'out of stock' or 'incorrect "
    "pricing', to prevent new orders while you adjust your stock/pricing. You can adjust your "
    "stock back up at any time. This adjustment will not impact existing orders. Note that "
    "cancellations can impact your ability to sell on Lazada if not managed carefully.\n\n"
    "*For more information, please view Seller Cancellation Policy page"
)
CANCEL_TIP = (
    "The order has been cancelled and SKU stock may have been set to 0. Please ensure you check "
    "your stock/pricing under \u201cManage Products\u201d. Your customer has also been informed "
    "of the cancellation and will receive a customer experience survey.\nPlease reach out to "
    "your customer if you would like to provide service recovery."
)


def reason_options(country: str) -> list[dict[str, str]]:
    first = _FIRST_REASON_ID[country]
    return [
        {"reason_name": name, "reason_id": str(first + 2 * index)}
        for index, name in enumerate(_REASON_NAMES)
    ]


def _checked_items(call: Call) -> tuple[Order, list[Item]]:
    order = order_id_param(call, LazadaError("122", "E0122: invalid trade order"))
    ids = parse_id_list(require(call.params, "order_item_id_list"))
    if not ids:
        raise LazadaError("102", "E0102: trade order line id is empty or invalid")
    by_id = {item.order_item_id: item for item in order.items}
    foreign = [i for i in ids if i not in by_id]
    if foreign:
        raise LazadaError("102", f"E0102: trade order line id is empty or invalid {foreign}")
    items = [by_id[i] for i in dict.fromkeys(ids)]
    stuck = [item for item in items if item.status not in CANCELLABLE_STATUSES]
    if stuck:
        detail = ", ".join(f"{item.order_item_id} (status {item.status})" for item in stuck)
        raise LazadaError(
            "123",
            f"E0123: invalid trade order lines {detail}: only pending, packed, repacked or "
            "ready_to_ship order lines can be cancelled",
        )
    return order, items


def validate(call: Call) -> dict[str, Any]:
    _checked_items(call)
    return ok(
        {
            "tip_type": "warning",
            "tip_content": VALIDATE_TIP,
            "reason_options": reason_options(call.authed_seller.country),
        }
    )


def create(call: Call) -> dict[str, Any]:
    order, items = _checked_items(call)
    reason_id = call.params.get("reason_id", "")
    reasons = {r["reason_id"]: r["reason_name"] for r in reason_options(call.authed_seller.country)}
    if reason_id not in reasons:
        raise LazadaError("104", "E0104: reason is empty or invalid")
    # Cancelling a packed line cancels its whole package (guide: "other order items in the same
    # package will also be cancelled").
    packages = {item.package_id for item in items if item.status in PACKAGED_STATUSES}
    packages.discard("")
    named = {item.order_item_id for item in items}
    doomed = items + [
        item
        for item in order.items
        if item.order_item_id not in named
        and item.package_id in packages
        and item.status in CANCELLABLE_STATUSES
    ]
    stamp = call.state.touch(order)
    for item in doomed:
        item.status = "canceled"
        item.reason = reasons[reason_id]
        item.reason_detail = ""
        item.cancel_return_initiator = "cancellation-seller"
        item.updated_at = stamp
    call.pushes.extend(pushes_for(call.state, order, doomed))
    return ok({"tip_type": "success", "tip_content": CANCEL_TIP})
