"""A client for the Shoplazza sandbox tests: the control routes and OpenAPI 2022-01 calls."""

from __future__ import annotations

from typing import Any

import httpx

SHOP = "alpha.myshoplaza.com"
OTHER_SHOP = "beta.myshoplaza.com"
API = "/openapi/2022-01"


class ShoplazzaSandbox:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def shop(self, domain: str = SHOP, **extra: Any) -> str:
        """Creates the shop; its access token."""
        shop = await self.admin("POST", "/shops", {"shop_domain": domain, **extra})
        token: str = shop["access_token"]
        return token

    async def order(self, domain: str = SHOP, **extra: Any) -> dict[str, Any]:
        created = await self.admin("POST", "/orders", {"shop_domain": domain, **extra})
        order: dict[str, Any] = created["order"]
        return order

    async def truth(self, order_id: str) -> dict[str, Any]:
        order: dict[str, Any] = (await self.admin("GET", f"/orders/{order_id}"))["order"]
        return order

    async def faults(self, **knobs: Any) -> dict[str, Any]:
        faults: dict[str, Any] = await self.admin("PUT", "/faults", knobs)
        return faults

    async def get(self, path: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = {} if token is None else {"Access-Token": token}
        return await self.http.get(f"{API}{path}", headers=headers, **kwargs)

    async def cancel(
        self, order_id: str, token: str | None, body: Any = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {} if token is None else {"Access-Token": token}
        headers.update(kwargs.pop("headers", {}))
        return await self.http.post(
            f"{API}/orders/{order_id}/cancel", json=body, headers=headers, **kwargs
        )
