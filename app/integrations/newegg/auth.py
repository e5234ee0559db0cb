from __future__ import annotations

from collections.abc import Generator

import httpx


class NeweggAuth(httpx.Auth):
    """Newegg wants the raw API key in ``Authorization`` (no scheme) and ``SecretKey``."""

    def __init__(self, api_key: str, secret_key: str) -> None:
        self._api_key = api_key
        self._secret_key = secret_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._api_key
        request.headers["SecretKey"] = self._secret_key
        yield request
