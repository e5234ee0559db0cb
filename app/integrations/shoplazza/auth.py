from __future__ import annotations

from collections.abc import Generator

import httpx


class ShoplazzaAuth(httpx.Auth):
    """Shoplazza's OpenAPI takes the shop's token in ``Access-Token`` (not a Bearer header)."""

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Access-Token"] = self._token
        yield request
