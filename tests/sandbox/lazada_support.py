"""Helpers for the Lazada sandbox tests: a webhook receiver and a client for the sandbox."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from app.integrations.lazada.signing import rest_sign

APP_KEY = "123456"
APP_SECRET = "sandbox-app-secret"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A stand-in for our webhook: records each push's headers and raw bytes."""

    url: str = ""
    status_code: int = 200
    records: list[Received] = field(default_factory=list)


def receiver_app(receiver: Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        receiver.records.append(Received(dict(request.headers), await request.body()))
        return Response(status_code=receiver.status_code)

    return app


class Sandbox:
    """Talks to the sandbox over HTTP: the control routes, and signed Lazada calls."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url

    async def admin(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = await self.http.request(method, f"/_sandbox{path}", json=body, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def seller(self, seller_id: str = "200549968600", **extra: Any) -> dict[str, Any]:
        body = {"seller_id": seller_id, "country": "sg", **extra}
        result: dict[str, Any] = await self.admin("POST", "/sellers", body)
        return result

    async def order(self, seller_id: str = "200549968600", **extra: Any) -> dict[str, Any]:
        body = {"seller_id": seller_id, "items": [{"sku": "SKU-1"}], "push": False, **extra}
        result: dict[str, Any] = await self.admin("POST", "/orders", body)
        return result

    def signed(
        self,
        api: str,
        params: dict[str, str],
        *,
        access_token: str | None = None,
        secret: str = APP_SECRET,
    ) -> dict[str, str]:
        common = {
            "app_key": APP_KEY,
            "timestamp": str(int(time.time() * 1000)),
            "sign_method": "sha256",
        }
        if access_token is not None:
            common["access_token"] = access_token
        merged = {**common, **params}
        return {**merged, "sign": rest_sign(secret, api, merged)}

    async def raw_call(
        self, api: str, params: dict[str, str], *, method: str = "GET"
    ) -> httpx.Response:
        if method == "GET":
            return await self.http.get(f"/rest{api}", params=params)
        return await self.http.post(f"/rest{api}", data=params)

    async def call(
        self,
        api: str,
        params: dict[str, str] | None = None,
        *,
        access_token: str | None = None,
        method: str = "GET",
        secret: str = APP_SECRET,
    ) -> dict[str, Any]:
        signed = self.signed(api, params or {}, access_token=access_token, secret=secret)
        response = await self.raw_call(api, signed, method=method)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body
