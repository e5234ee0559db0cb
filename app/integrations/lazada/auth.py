"""Request signing as an ``httpx.Auth``: every Lazada call passes through here."""

from __future__ import annotations

import time
from collections.abc import Generator
from urllib.parse import parse_qsl, urlencode

import httpx

from app.integrations.lazada.signing import rest_sign


class LazadaSigner(httpx.Auth):
    """Adds ``app_key``, ``timestamp``, ``sign_method``, ``access_token`` and ``sign``.

    ``api_prefix`` is the gateway's path (``/rest``): Lazada signs the API path without it.
    """

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        access_token: str | None,
        api_prefix: str,
    ) -> None:
        self._app_key = app_key
        self._app_secret = app_secret
        self._access_token = access_token
        self._prefix = api_prefix.rstrip("/")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        params.update(
            app_key=self._app_key,
            sign_method="sha256",
            timestamp=str(int(time.time() * 1000)),
        )
        if self._access_token:
            params["access_token"] = self._access_token
        path = request.url.path
        api_path = path[len(self._prefix) :] if path.startswith(self._prefix) else path
        params["sign"] = rest_sign(self._app_secret, api_path, params)
        request.url = request.url.copy_with(query=urlencode(params).encode())
        yield request
