"""A client for the Newegg sandbox tests: the control routes and Marketplace API calls."""

from __future__ import annotations

from typing import Any

import httpx

SELLER = "A006"
OTHER_SELLER = "A2EU"
PREFIX = {"us": "/marketplace", "b2b": "/marketplace/b2b", "ca": "/marketplace/can"}
STATUS_PATH = "/ordermgmt/orderstatus/orders/{}"
SBN_PATH = "/ordermgmt/sbnorder/cancellationresult/{}"
INFO_PATH = "/ordermgmt/order/orderinfo"
JSON = {"Accept": "application/json"}


class NeweggSandbox:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.credentials: dict[str, dict[str, str]] = {}

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def seller(self, seller_id: str = SELLER, **extra: Any) -> dict[str, str]:
        created = await self.admin("POST", "/sellers", {"seller_id": seller_id, **extra})
        self.credentials[seller_id] = {
            "Authorization": created["api_key"],
            "SecretKey": created["secret_key"],
        }
        return self.credentials[seller_id]

    async def order(self, seller_id: str = SELLER, **extra: Any) -> int:
        created = await self.admin("POST", "/orders", {"seller_id": seller_id, **extra})
        number: int = created["order_number"]
        return number

    async def seeded(self, **order: Any) -> int:
        """SELLER on every site, and one order of theirs."""
        await self.seller(sites=["us", "b2b", "ca"])
        return await self.order(**order)

    async def truth(self, number: int) -> dict[str, Any]:
        order: dict[str, Any] = await self.admin("GET", f"/orders/{number}")
        return order

    async def faults(self, **knobs: Any) -> dict[str, Any]:
        faults: dict[str, Any] = await self.admin("PUT", "/faults", knobs)
        return faults

    def headers(self, seller_id: str = SELLER, **extra: str) -> dict[str, str]:
        return {**self.credentials.get(seller_id, {}), **JSON, **extra}

    async def call(
        self,
        method: str,
        path: str,
        *,
        site: str = "us",
        seller_id: str = SELLER,
        sellerid: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        params = kwargs.pop("params", {})
        params.setdefault("sellerid", sellerid if sellerid is not None else seller_id)
        return await self.http.request(
            method,
            PREFIX[site] + path,
            params=params,
            headers=headers if headers is not None else self.headers(seller_id),
            **kwargs,
        )

    async def cancel(
        self, number: int | str, action: Any = "1", value: Any = "24", **kwargs: Any
    ) -> httpx.Response:
        kwargs.setdefault("json", {"Action": action, "Value": value})
        kwargs.setdefault("params", {"version": "304"})
        return await self.call("PUT", STATUS_PATH.format(number), **kwargs)

    async def status(self, number: int | str, **kwargs: Any) -> httpx.Response:
        return await self.call("GET", STATUS_PATH.format(number), **kwargs)

    async def sbn_result(self, number: int | str, **kwargs: Any) -> httpx.Response:
        return await self.call("GET", SBN_PATH.format(number), **kwargs)

    async def sbn_body(self, number: int) -> dict[str, Any]:
        """A successful SBN cancellation result answer, its envelope checked."""
        response = await self.sbn_result(number)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["OperationType"] == "GetSBNOrderCancellationResultResponse"
        assert body["IsSuccess"] == "true"
        assert body["SellerID"] == SELLER
        assert body["ResponseBody"]["OrderNumber"] == str(number)
        return body

    async def order_info(self, body: Any, version: str = "304", **kwargs: Any) -> httpx.Response:
        return await self.call("PUT", INFO_PATH, params={"version": version}, json=body, **kwargs)


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert isinstance(body, list), body
    (error,) = body
    code: str = error["Code"]
    return code
