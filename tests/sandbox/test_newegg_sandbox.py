"""The Newegg sandbox over real HTTP: cancel rules and SO codes, SBN cancellations, order
status and information, auth, formats (XML, BOM), throttling, fault knobs and the control API."""

from __future__ import annotations

import codecs
import json
import time
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from .newegg_support import OTHER_SELLER, SELLER, NeweggSandbox, error_code

# --- cancel: seller-fulfilled ---------------------------------------------------------------


@pytest.mark.parametrize(("action", "value"), [("1", "24"), (1, 72), ("1", 73), (1, "74")])
async def test_cancel_voids_an_unshipped_order(
    newegg: NeweggSandbox, action: Any, value: Any
) -> None:
    number = await newegg.seeded(items=[{"seller_part_number": "P1", "quantity": 2}])
    response = await newegg.cancel(number, action, value)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "IsSuccess": "true",
        "Result": {"OrderNumber": str(number), "SellerID": SELLER, "OrderStatus": "Void"},
    }
    truth = await newegg.truth(number)
    assert (truth["status"], truth["order_status_code"]) == ("Voided", 4)
    assert truth["cancel_reason_code"] == int(value)
    assert [i["StatusDescription"] for i in truth["order_info"]["ItemInfoList"]] == ["Cancelled"]


@pytest.mark.parametrize("site", ["b2b", "ca"])
async def test_other_sites(newegg: NeweggSandbox, site: str) -> None:
    number = await newegg.seeded(site=site)
    assert (await newegg.cancel(number, site=site)).status_code == 200
    # The order lives on its own site only.
    other = await newegg.seeded()
    assert error_code(await newegg.cancel(other, site=site)) == "SO003"


@pytest.mark.parametrize("raw", ["abc", "0", "2147483648", "-5", "12.5"])
async def test_so002_bad_order_number(newegg: NeweggSandbox, raw: str) -> None:
    await newegg.seeded()
    response = await newegg.cancel(raw)
    assert response.status_code == 400
    assert response.json() == [
        {
            "Code": "SO002",
            "Message": "Order Number should be an integer (ranging from 1 to 2147483647)",
        }
    ]
    assert error_code(await newegg.status(raw)) == "SO002"


async def test_so003_unknown_or_other_sellers_order(newegg: NeweggSandbox) -> None:
    await newegg.seeded()
    await newegg.seller(OTHER_SELLER)
    foreign = await newegg.order(OTHER_SELLER)
    for number in (2147483647, foreign):
        response = await newegg.cancel(number)
        assert (response.status_code, error_code(response)) == (400, "SO003")
        assert error_code(await newegg.status(number)) == "SO003"
    assert (await newegg.truth(foreign))["status"] == "Unshipped"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Action": "3", "Value": "24"}, "SO014"),
        ({"Action": "cancel", "Value": "24"}, "SO014"),
        ({"Action": "1", "Value": "25"}, "SO017"),
        ({"Action": 1, "Value": "OutOfStock"}, "SO017"),
        ({"Value": "24"}, "SO015"),
        ({"Action": "1"}, "SO015"),
        ({"Action": "2", "Value": {"Shipment": {}}}, "SO030"),
        (["Action"], "SO015"),
    ],
)
async def test_body_validation(newegg: NeweggSandbox, body: Any, code: str) -> None:
    number = await newegg.seeded()
    response = await newegg.cancel(number, json=body)
    assert (response.status_code, error_code(response)) == (400, code)
    assert (await newegg.truth(number))["status"] == "Unshipped"


async def test_malformed_json_and_empty_body(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    headers = newegg.headers(**{"Content-Type": "application/json"})
    for content in (b"{", b""):
        response = await newegg.cancel(number, json=None, content=content, headers=headers)
        assert error_code(response) == "SO015"
        assert "UpdateOrderStatus" in response.json()[0]["Message"]


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        ("Voided", "SO008", "This order has already been voided"),
        ("Shipped", "SO027", "This order has already been shipped."),
        ("PartiallyShipped", "SO006", "The order status is currently Partially Shipped"),
        ("Invoiced", "SO006", "The order status is currently Invoiced"),
    ],
)
async def test_wrong_state(newegg: NeweggSandbox, status: str, code: str, text: str) -> None:
    number = await newegg.seeded(status=status)
    response = await newegg.cancel(number)
    assert (response.status_code, error_code(response)) == (400, code)
    assert text in response.json()[0]["Message"]
    assert (await newegg.truth(number))["status"] == status


async def test_second_cancel_is_so008_and_forced_codes(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    assert (await newegg.cancel(number)).status_code == 200
    assert error_code(await newegg.cancel(number, value="72")) == "SO008"
    stuck = await newegg.order(reject_cancel_with="SO016")
    response = await newegg.cancel(stuck)
    assert error_code(response) == "SO016"
    assert "two hours" in response.json()[0]["Message"]


# --- cancel: shipped by Newegg --------------------------------------------------------------


async def test_sbn_cancel_processing_then_success(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded(fulfillment="sbn")
    response = await newegg.cancel(number, value="72")
    assert response.json()["Result"]["OrderStatus"] == "Processing"
    status = (await newegg.status(number)).json()
    assert (status["OrderStatusCode"], status["OrderStatusName"]) == (99, "Processing")
    assert status["FulfillmentOption"] == 1
    pending = await newegg.sbn_body(number)
    assert pending["ResponseBody"]["Result"] == "Processing"
    # Repeating the cancel while pending records nothing new.
    assert (await newegg.cancel(number)).json()["Result"]["OrderStatus"] == "Processing"
    assert (await newegg.truth(number))["sbn_cancellation"]["reason_code"] == 72
    decided = await newegg.admin("POST", f"/orders/{number}/sbn-result", {"result": "Success"})
    assert decided["status"] == "Voided"
    done = await newegg.sbn_body(number)
    assert done["ResponseBody"]["Result"] == "Success"
    assert done["ResponseBody"]["ErrorMessage"] == ""
    assert (await newegg.status(number)).json()["OrderStatusCode"] == 4
    assert error_code(await newegg.cancel(number)) == "SO008"


async def test_sbn_cancel_failed(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded(fulfillment="sbn")
    await newegg.cancel(number)
    await newegg.admin(
        "POST", f"/orders/{number}/sbn-result", {"result": "Failed", "error_message": "in pick"}
    )
    failed = (await newegg.sbn_body(number))["ResponseBody"]
    assert (failed["Result"], failed["ErrorMessage"]) == ("Failed", "in pick")
    assert (await newegg.status(number)).json()["OrderStatusName"] == "Unshipped"
    # A new cancel starts a new request.
    assert (await newegg.cancel(number)).json()["Result"]["OrderStatus"] == "Processing"
    assert (await newegg.sbn_body(number))["ResponseBody"]["Result"] == "Processing"
    decided = await newegg.http.post(
        f"/_sandbox/orders/{number}/sbn-result", json={"result": "Success"}
    )
    assert decided.status_code == 200
    again = await newegg.http.post(
        f"/_sandbox/orders/{number}/sbn-result", json={"result": "Failed"}
    )
    assert again.status_code == 409


@pytest.mark.parametrize(("result", "status"), [("Success", "Voided"), ("Failed", "Unshipped")])
async def test_sbn_resolves_after_polls(newegg: NeweggSandbox, result: str, status: str) -> None:
    number = await newegg.seeded(
        fulfillment="sbn", sbn_auto_result=result, sbn_polls_before_result=2
    )
    await newegg.cancel(number)
    seen = [(await newegg.sbn_body(number))["ResponseBody"]["Result"] for _ in range(4)]
    assert seen == ["Processing", "Processing", result, result]
    assert (await newegg.truth(number))["status"] == status


async def test_sbn_result_without_request_is_so003(newegg: NeweggSandbox) -> None:
    seller_order = await newegg.seeded()
    sbn_order = await newegg.order(fulfillment="sbn")
    for number in (seller_order, sbn_order, 999):
        assert error_code(await newegg.sbn_result(number)) == "SO003"


async def test_shipped_sbn_order_is_so027(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded(fulfillment="sbn", status="Shipped")
    assert error_code(await newegg.cancel(number)) == "SO027"


# --- order status and information -----------------------------------------------------------


async def test_get_order_status(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded(status="PartiallyShipped")
    response = await newegg.status(number, params={"version": "304"})
    assert response.json() == {
        "OrderNumber": str(number),
        "SellerID": SELLER,
        "OrderStatusCode": 1,
        "OrderStatusName": "PartiallyShipped",
        "OrderDownloaded": True,
        "SalesChannel": 0,
        "FulfillmentOption": 0,
    }
    assert error_code(await newegg.status(number, params={"version": "999"})) == "SB001"


async def test_get_order_info(newegg: NeweggSandbox) -> None:
    first = await newegg.seeded()
    second = await newegg.order(fulfillment="sbn", status="Shipped")
    third = await newegg.order()
    await newegg.cancel(third)

    async def numbers(criteria: dict[str, Any], **page: str) -> list[str]:
        request_body: dict[str, Any] = {**page, "RequestCriteria": criteria}
        body = {"OperationType": "GetOrderInfoRequest", "RequestBody": request_body}
        response = await newegg.order_info(body)
        assert response.status_code == 200, response.text
        assert response.json()["OperationType"] == "GetOrderInfoResponse"
        return [o["OrderNumber"] for o in response.json()["ResponseBody"]["OrderInfoList"]]

    assert await numbers({}) == [str(first), str(second), str(third)]
    assert await numbers({"Status": "4"}) == [str(third)]
    assert await numbers({"Type": 1}) == [str(second)]
    assert await numbers({"OrderNumberList": {"OrderNumber": str(second)}, "Status": 0}) == [
        str(second)
    ]
    assert await numbers({}, PageIndex="2", PageSize="2") == [str(third)]
    voided = (await newegg.truth(third))["order_info"]
    assert (voided["OrderStatus"], voided["OrderStatusDescription"]) == ("4", "Voided")
    missing_version = await newegg.call(
        "PUT", "/ordermgmt/order/orderinfo", json={"RequestBody": {}}
    )
    assert error_code(missing_version) == "SO015"
    assert error_code(await newegg.order_info({"RequestBody": {"PageSize": 101}})) == "SB001"


# --- auth -----------------------------------------------------------------------------------


async def test_auth_failures_are_401(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    creds = newegg.credentials[SELLER]
    key, secret = creds["Authorization"], creds["SecretKey"]
    await newegg.seller(OTHER_SELLER)
    cases = [
        ({"Accept": "application/json"}, SELLER, "InvalidConsumerKey"),
        ({"Authorization": "nope", "SecretKey": secret}, SELLER, "InvalidConsumerKey"),
        ({"Authorization": key}, SELLER, "InvalidToken"),
        ({"Authorization": key, "SecretKey": "wrong"}, SELLER, "InvalidToken"),
        ({"Authorization": key, "SecretKey": secret}, "", "InvalidToken"),
        ({"Authorization": key, "SecretKey": secret}, OTHER_SELLER, "AccessDenied"),
    ]
    for headers, seller_id, code in cases:
        headers = {**headers, "Accept": "application/json"}
        response = await newegg.cancel(number, headers=headers, sellerid=seller_id)
        assert (response.status_code, error_code(response)) == (401, code), headers
    assert (await newegg.truth(number))["status"] == "Unshipped"
    # Credentials are per site: OTHER_SELLER is on "us" only.
    other = await newegg.order(OTHER_SELLER)
    denied = await newegg.status(other, site="ca", seller_id=OTHER_SELLER)
    assert error_code(denied) == "AccessDenied"
    lower = await newegg.status(number, sellerid=SELLER.lower())
    assert lower.status_code == 200


async def test_urls_are_case_sensitive(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    response = await newegg.http.get(
        f"/marketplace/OrderMgmt/orderstatus/orders/{number}",
        params={"sellerid": SELLER},
        headers=newegg.headers(),
    )
    assert response.status_code == 404


# --- formats --------------------------------------------------------------------------------


async def test_xml_in_and_out(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    body = b"<UpdateOrderStatus><Action>1</Action><Value>24</Value></UpdateOrderStatus>"
    headers = newegg.headers(Accept="application/xml", **{"Content-Type": "application/xml"})
    response = await newegg.cancel(number, json=None, content=body, headers=headers)
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == "UpdateOrderStatusInfo"
    assert root.findtext("IsSuccess") == "true"
    assert root.findtext("Result/OrderStatus") == "Void"
    # No Accept and no JSON body: Newegg's default format is XML.
    plain = {k: v for k, v in newegg.headers().items() if k != "Accept"}
    error = await newegg.cancel(number, json=None, content=body, headers=plain)
    errors = ET.fromstring(error.content)
    assert (errors.tag, errors.findtext("Error/Code")) == ("Errors", "SO008")
    status = await newegg.status(number, headers=plain)
    assert ET.fromstring(status.content).findtext("OrderStatusCode") == "4"


async def test_bom(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    assert (await newegg.faults(bom=True))["bom"] is True
    for response in (await newegg.status(number), await newegg.cancel("x")):
        assert response.content.startswith(codecs.BOM_UTF8)
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)
        assert json.loads(response.content.decode("utf-8-sig"))
    await newegg.faults(bom=False)
    assert not (await newegg.status(number)).content.startswith(codecs.BOM_UTF8)


# --- throttling -----------------------------------------------------------------------------


async def test_rate_limit(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    first = await newegg.status(number)
    assert first.headers["X-RateLimit-Limit"] == "500"
    assert first.headers["X-RateLimit-Remaining"] == "499"
    assert first.headers["X-RateLimit-ResetTime"].endswith(("AM", "PM"))
    await newegg.faults(rate_limit_per_hour=2)
    assert (await newegg.cancel("abc")).headers["X-RateLimit-Remaining"] == "1"
    assert (await newegg.cancel(number, value="99")).headers["X-RateLimit-Remaining"] == "0"
    limited = await newegg.cancel(number)
    assert limited.status_code == 429
    assert limited.json() == [{"Code": "429", "Message": "Too many request."}]
    assert (limited.headers["X-RateLimit-Limit"], limited.headers["X-RateLimit-Remaining"]) == (
        "2",
        "0",
    )
    assert (await newegg.truth(number))["status"] == "Unshipped"
    assert (await newegg.status(number)).status_code == 200  # its own window
    await newegg.faults(rate_limit_per_minute=1)
    sbn = await newegg.order(fulfillment="sbn")
    await newegg.faults(rate_limit=False)
    assert (await newegg.cancel(sbn)).status_code == 200
    assert "X-RateLimit-Limit" not in (await newegg.cancel(sbn)).headers
    await newegg.faults(rate_limit=True)
    assert (await newegg.sbn_result(sbn)).status_code == 200
    assert (await newegg.sbn_result(sbn)).status_code == 429


# --- fault knobs ----------------------------------------------------------------------------


async def test_fail_next(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    await newegg.faults(fail_next=1)
    outage = await newegg.cancel(number)
    assert outage.status_code == 503
    assert outage.headers["content-type"].startswith("text/html")
    await newegg.faults(fail_next=1, fail_status=500)
    failed = await newegg.cancel(number)
    assert (failed.status_code, error_code(failed)) == (500, "500")
    assert (await newegg.truth(number))["status"] == "Unshipped"
    assert (await newegg.cancel(number)).status_code == 200


@pytest.mark.parametrize(("after_commit", "status"), [(False, "Unshipped"), (True, "Voided")])
async def test_timeout(newegg: NeweggSandbox, after_commit: bool, status: str) -> None:
    number = await newegg.seeded()
    await newegg.faults(timeout_next=1, timeout_after_commit=after_commit)
    with pytest.raises(httpx.ReadTimeout):
        await newegg.cancel(number, timeout=0.3)
    assert (await newegg.truth(number))["status"] == status
    # "What state is this order in now?" answers promptly again.
    expected = 4 if after_commit else 0
    assert (await newegg.status(number)).json()["OrderStatusCode"] == expected


@pytest.mark.parametrize("fulfillment", ["seller", "sbn"])
async def test_drop_after_commit_closes_the_connection(
    newegg: NeweggSandbox, fulfillment: str
) -> None:
    number = await newegg.seeded(fulfillment=fulfillment)
    await newegg.faults(drop_after_commit_next=1)
    assert error_code(await newegg.cancel(number, value="1")) == "SO017"  # not consumed
    with pytest.raises(httpx.RemoteProtocolError):
        await newegg.cancel(number)
    code = (await newegg.status(number)).json()["OrderStatusCode"]
    assert code == (4 if fulfillment == "seller" else 99)
    assert (await newegg.admin("GET", "/faults"))["drop_after_commit_next"] == 0


async def test_drop_after_commit_as_500(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    await newegg.faults(drop_after_commit_next=1, drop_mode="500")
    response = await newegg.cancel(number)
    assert response.status_code == 500
    assert (await newegg.truth(number))["status"] == "Voided"
    assert error_code(await newegg.cancel(number)) == "SO008"


async def test_latency(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    await newegg.faults(latency_ms=200)
    started = time.monotonic()
    assert (await newegg.status(number)).status_code == 200
    assert time.monotonic() - started >= 0.2


# --- counters and control API ---------------------------------------------------------------


async def test_call_counters(newegg: NeweggSandbox) -> None:
    number = await newegg.seeded()
    await newegg.cancel(number)
    await newegg.cancel(number)
    await newegg.status(number, site="ca")
    calls = await newegg.admin("GET", "/calls")
    assert calls == {
        "total": 3,
        "by_api": {
            "PUT /ordermgmt/orderstatus/orders/{ordernumber}": 2,
            "GET /ordermgmt/orderstatus/orders/{ordernumber}": 1,
        },
        "ok_by_api": {"PUT /ordermgmt/orderstatus/orders/{ordernumber}": 1},
    }
    assert (await newegg.admin("DELETE", "/calls"))["total"] == 0


async def test_control_api(newegg: NeweggSandbox) -> None:
    creds = await newegg.seller(api_key="k-1", secret_key="s-1")
    assert creds == {"Authorization": "k-1", "SecretKey": "s-1"}
    number = await newegg.order(order_number=159243598, status="Void")
    truth = await newegg.truth(number)
    assert (truth["order_number"], truth["status"], truth["site"]) == (159243598, "Voided", "us")
    duplicate = await newegg.http.post(
        "/_sandbox/orders", json={"seller_id": SELLER, "order_number": 159243598}
    )
    assert duplicate.status_code == 409
    wrong_site = await newegg.http.post(
        "/_sandbox/orders", json={"seller_id": SELLER, "site": "ca"}
    )
    assert wrong_site.status_code == 409
    bad = await newegg.http.post("/_sandbox/orders", json={"seller_id": SELLER, "status": "Lost"})
    assert bad.status_code == 422
    clash = await newegg.http.post("/_sandbox/sellers", json={"seller_id": "B1", "api_key": "k-1"})
    assert clash.status_code == 409
    shipped = await newegg.admin("POST", f"/orders/{number}/status", {"status": "Shipped"})
    assert shipped["order_status_code"] == 2
    assert (await newegg.http.get("/_sandbox/orders/1")).status_code == 404
    await newegg.admin("POST", "/reset")
    assert await newegg.admin("GET", "/sellers") == []
    assert error_code(await newegg.status(number)) == "InvalidConsumerKey"
