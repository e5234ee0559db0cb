"""Order Management calls: Cancel Order, Get Order Status, Get SBN Order Cancellation Request
Result and Get Order Information. Handlers are synchronous and return ``(xml_root, body)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.sandbox.newegg.errors import invalid, so
from app.sandbox.newegg.formats import now_utc, pacific_date, parse_body, parse_pacific
from app.sandbox.newegg.models import (
    CANCEL_REASONS,
    STATUS_DESCRIPTION,
    STATUS_NAME,
    Order,
    SbnCancellation,
    Seller,
)
from app.sandbox.newegg.state import NeweggState
from app.sandbox.newegg.views import render_order_info

MAX_ORDER_NUMBER = 2_147_483_647
CANCEL_VERSIONS = frozenset({"304"})
ORDER_INFO_VERSIONS = {
    "us": frozenset({"304", "305", "306", "307", "309", "310", "311", "312"}),
    "b2b": frozenset({"304", "305", "306", "307", "309", "310", "311", "312"}),
    "ca": frozenset({"304", "305", "311", "312"}),
}
MAX_PAGE_SIZE = 100
ORDER_INFO_TYPES = {0: None, 1: "sbn", 2: "seller", 3: "multichannel", 4: "nws"}


@dataclass
class Call:
    state: NeweggState
    seller: Seller
    site: str
    query: dict[str, str]
    body: bytes
    content_type: str
    committed: bool = False  # set by a handler that changed the state


Result = tuple[str, Any]
Handler = Callable[[Call], Result]


def _order_number(raw: str) -> int:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_ORDER_NUMBER:
        raise so("SO002")
    return int(text)


def _own_order(call: Call, number: int) -> Order:
    order = call.state.orders.get(number)
    if order is None or order.seller_id != call.seller.seller_id or order.site != call.site:
        raise so("SO003")
    return order


def _optional_version(call: Call) -> None:
    version = call.query.get("version")
    if version is not None and version not in CANCEL_VERSIONS:
        raise invalid("version", f"{version} is not available; available versions: 304")


def _int_field(value: Any) -> int | None:
    """Ints or numeric strings, as the doc's JSON sample sends strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _body(call: Call, argument: str) -> dict[str, Any]:
    try:
        data = parse_body(call.body, call.content_type)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("NeweggAPIRequest"), dict):
        data = data["NeweggAPIRequest"]
    if not isinstance(data, dict):
        raise so("SO015", argument)
    return data


def _order_result(order: Order, status: str) -> dict[str, Any]:
    return {
        "IsSuccess": "true",
        "Result": {
            "OrderNumber": str(order.order_number),
            "SellerID": order.seller_id,
            "OrderStatus": status,
        },
    }


def cancel_order(raw_number: str) -> Handler:
    def handle(call: Call) -> Result:
        _optional_version(call)
        number = _order_number(raw_number)
        data = _body(call, "UpdateOrderStatus")
        if data.get("Action") in (None, ""):
            raise so("SO015", "Action")
        action = _int_field(data["Action"])
        if action not in (1, 2):
            raise so("SO014")
        if action == 2:
            raise so("SO030")  # Ship Order is not simulated: no shipment is ever accepted
        if data.get("Value") in (None, ""):
            raise so("SO015", "Value")
        reason = _int_field(data["Value"])
        if reason not in CANCEL_REASONS:
            raise so("SO017")
        order = _own_order(call, number)
        if order.reject_cancel_with:
            raise so(order.reject_cancel_with, STATUS_DESCRIPTION[order.status_code])
        if order.status == "Voided":
            raise so("SO008")
        if order.status == "Shipped":
            raise so("SO027")
        if order.status != "Unshipped":
            raise so("SO006", STATUS_DESCRIPTION[order.status_code])
        if order.fulfillment == "sbn":
            # The warehouse decides later; a repeat while it is pending changes nothing.
            if order.sbn is None or order.sbn.result != "Processing":
                order.sbn = SbnCancellation(request_date=now_utc(), reason_code=reason)
                call.committed = True
            return "UpdateOrderStatusInfo", _order_result(order, "Processing")
        call.state.void(order, reason)
        call.committed = True
        return "UpdateOrderStatusInfo", _order_result(order, "Void")

    return handle


def get_order_status(raw_number: str) -> Handler:
    def handle(call: Call) -> Result:
        _optional_version(call)
        order = _own_order(call, _order_number(raw_number))
        code = order.status_code
        return "QueryOrderStatusInfo", {
            "OrderNumber": str(order.order_number),
            "SellerID": order.seller_id,
            "OrderStatusCode": code,
            "OrderStatusName": STATUS_NAME[code],
            "OrderDownloaded": order.downloaded,
            "SalesChannel": 0,
            "FulfillmentOption": 1 if order.fulfillment == "sbn" else 0,
        }

    return handle


def get_sbn_cancellation_result(raw_number: str) -> Handler:
    def handle(call: Call) -> Result:
        order = _own_order(call, _order_number(raw_number))
        request = order.sbn
        if order.fulfillment != "sbn" or request is None:
            raise so("SO003")  # no cancellation request to report on
        if request.result == "Processing" and order.sbn_auto_result is not None:
            request.polls += 1
            if request.polls > order.sbn_polls_before_result:
                call.state.resolve_sbn(order, order.sbn_auto_result)
        return "NeweggAPIResponse", {
            "IsSuccess": "true",
            "OperationType": "GetSBNOrderCancellationResultResponse",
            "SellerID": order.seller_id,
            "ResponseDate": pacific_date(now_utc()),
            "ResponseBody": {
                "RequestDate": pacific_date(request.request_date),
                "OrderNumber": str(order.order_number),
                "Result": request.result,
                "ErrorMessage": request.error_message,
            },
        }

    return handle


def _criteria_int(criteria: dict[str, Any], name: str, allowed: range) -> int | None:
    raw = criteria.get(name)
    if raw in (None, ""):
        return None
    value = _int_field(raw)
    if value not in allowed:
        raise invalid(name, str(raw))
    return value


def _as_list(value: Any) -> list[Any]:
    """Newegg's JSON mirrors its XML: one member is an object, several a list."""
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def _selected(call: Call, criteria: dict[str, Any]) -> list[Order]:
    mine = [
        o
        for o in call.state.orders.values()
        if o.seller_id == call.seller.seller_id and o.site == call.site
    ]
    number_list = criteria.get("OrderNumberList")
    numbers = _as_list(number_list.get("OrderNumber") if isinstance(number_list, dict) else None)
    if numbers:  # "if given, other criteria are ignored"
        wanted = {_int_field(n) for n in numbers}
        return [o for o in mine if o.order_number in wanted]
    status = _criteria_int(criteria, "Status", range(0, 6))
    kind = _criteria_int(criteria, "Type", range(0, 5))
    downloaded = _criteria_int(criteria, "OrderDownloaded", range(0, 2))
    bounds = []
    for name in ("OrderDateFrom", "OrderDateTo"):
        raw = criteria.get(name)
        moment = None if raw in (None, "") else parse_pacific(str(raw))
        if raw not in (None, "") and moment is None:
            raise invalid(name, str(raw))
        bounds.append(moment)
    start, end = bounds

    def keep(order: Order) -> bool:
        if status is not None and order.status_code != status:
            return False
        if kind is not None and ORDER_INFO_TYPES[kind] not in (None, order.fulfillment):
            return False
        if downloaded == 1 and order.downloaded:
            return False
        if start is not None and order.order_date < start:
            return False
        return end is None or order.order_date <= end

    return [o for o in mine if keep(o)]


def get_order_info(call: Call) -> Result:
    version = call.query.get("version")
    if not version:
        raise so("SO015", "version")
    if version not in ORDER_INFO_VERSIONS[call.site]:
        raise invalid("version", version)
    data = _body(call, "RequestBody")
    request_body = data.get("RequestBody")
    if not isinstance(request_body, dict):
        raise so("SO015", "RequestBody")
    page_index = _criteria_int(request_body, "PageIndex", range(1, MAX_ORDER_NUMBER)) or 1
    page_size = _criteria_int(request_body, "PageSize", range(1, MAX_PAGE_SIZE + 1)) or 100
    criteria = request_body.get("RequestCriteria")
    orders = _selected(call, criteria if isinstance(criteria, dict) else {})
    orders.sort(key=lambda o: (o.order_date, o.order_number))
    page = orders[(page_index - 1) * page_size : page_index * page_size]
    return "NeweggAPIResponse", {
        "IsSuccess": "true",
        "OperationType": "GetOrderInfoResponse",
        "SellerID": call.seller.seller_id,
        "ResponseDate": pacific_date(now_utc()),
        "Memo": "",
        "ResponseBody": {
            "PageInfo": {
                "TotalCount": str(len(orders)),
                "TotalPageCount": str(-(-len(orders) // page_size)),
                "PageIndex": str(page_index),
                "PageSize": str(page_size),
            },
            "OrderInfoList": [render_order_info(order) for order in page],
        },
    }
