"""LazadaClient at the transport boundary: what it sends, and how it reads Lazada's answers."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx
import pytest

from app.integrations import errors
from app.integrations.lazada.client import LazadaClient
from app.integrations.lazada.signing import rest_sign

Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, api_base: str | None = None) -> LazadaClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return LazadaClient(
        http,
        app_key="123456",
        app_secret="helloworld",
        country="vn",
        access_token="test-token",
        api_base=api_base,
    )


class TestSigning:
    async def test_request_is_signed_as_lazada_documents(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"code": "0", "data": {"order_id": 1}})

        await _client(handler).get_order("1234")
        (request,) = seen
        assert request.url.host == "api.lazada.vn"
        assert request.url.path == "/rest/order/get"
        params = dict(parse_qsl(request.url.query.decode()))
        assert params.keys() == {
            "order_id",
            "app_key",
            "sign_method",
            "timestamp",
            "access_token",
            "sign",
        }
        assert params["sign_method"] == "sha256"
        assert params["access_token"] == "test-token"
        sign = params.pop("sign")
        # The gateway's /rest prefix is not part of the signed path.
        assert sign == rest_sign("helloworld", "/order/get", params)

    async def test_override_base_keeps_signed_path_without_prefix(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"code": "0", "data": []})

        await _client(handler, api_base="http://127.0.0.1:9/some/rest").get_order_items("9")
        params = dict(parse_qsl(seen[0].url.query.decode()))
        sign = params.pop("sign")
        assert seen[0].url.path == "/some/rest/order/items/get"
        assert sign == rest_sign("helloworld", "/order/items/get", params)

    async def test_refresh_goes_to_the_auth_gateway_without_access_token(self) -> None:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(
                200,
                json={
                    "code": "0",
                    "access_token": "a",
                    "refresh_token": "r",
                    "expires_in": "10",
                    "refresh_expires_in": 259200,
                },
            )

        token = await _client(handler).refresh_access_token("old-refresh")
        assert seen[0].url.host == "auth.lazada.com"
        assert "access_token" not in dict(parse_qsl(seen[0].url.query.decode()))
        assert (token.expires_in, token.refresh_expires_in) == (10, 259200)


class TestErrors:
    @pytest.mark.parametrize(
        ("response", "kind"),
        [
            (httpx.Response(503, text="<html>busy</html>"), errors.MarketplaceUnavailable),
            (httpx.Response(429, headers={"Retry-After": "2"}), errors.RateLimited),
            (httpx.Response(200, text="not json"), errors.MarketplaceUnavailable),
            (httpx.Response(200, json={"code": "ApiCallLimit", "type": "ISP"}), errors.RateLimited),
            (httpx.Response(200, json={"code": "901", "message": "E901"}), errors.RateLimited),
            (httpx.Response(200, json={"code": "IllegalAccessToken"}), errors.AccessTokenInvalid),
            (httpx.Response(200, json={"code": "IllegalRefreshToken"}), errors.RefreshTokenInvalid),
            (httpx.Response(200, json={"code": "IncompleteSignature"}), errors.AuthError),
            (httpx.Response(200, json={"code": "16", "message": "E016"}), errors.RemoteNotFound),
            (httpx.Response(200, json={"code": "123", "message": "E0123"}), errors.Rejected),
            (
                httpx.Response(200, json={"code": "X", "type": "SYSTEM"}),
                errors.MarketplaceUnavailable,
            ),
        ],
    )
    async def test_answers_map_to_the_error_tree(
        self, response: httpx.Response, kind: type[errors.MarketplaceError]
    ) -> None:
        with pytest.raises(kind) as caught:
            await _client(lambda _: response).get_order("1")
        assert caught.value.marketplace == "lazada"
        assert isinstance(caught.value, errors.TransientError) == issubclass(
            kind, errors.TransientError
        )

    async def test_retry_after_is_kept(self) -> None:
        response = httpx.Response(429, headers={"Retry-After": "2"})
        with pytest.raises(errors.RateLimited) as caught:
            await _client(lambda _: response).get_order("1")
        assert caught.value.retry_after == 2.0

    async def test_connection_errors_are_transient(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        with pytest.raises(errors.MarketplaceConnectionError):
            await _client(handler).get_order("1")

    async def test_timeouts_are_transient(self) -> None:
        def handler(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=request)

        with pytest.raises(errors.MarketplaceTimeout):
            await _client(handler).get_order("1")
