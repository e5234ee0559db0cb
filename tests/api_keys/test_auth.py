"""Every /v1 route over real HTTP: which key gets 401, which 403, which gets through."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api_keys.schemas import Scope
from app.api_keys.service import api_key as api_key_service
from tests.helpers import scalar

ZERO = "00000000-0000-0000-0000-000000000000"
PATH_VALUES = {
    "account_id": ZERO,
    "order_id": "1",
    "cancellation_id": ZERO,
    "event_id": "1",
    "key_id": ZERO,
}
ACCOUNT = {
    "marketplace": "lazada",
    "seller_id": "1001",
    "country": "sg",
    "access_token": "secret-access-token-value",
    "refresh_token": "secret-refresh-token-value",
}

# (method, OpenAPI path, the scope it needs, a body that passes validation)
ROUTES: list[tuple[str, str, Scope, dict[str, Any] | None]] = [
    ("GET", "/v1/accounts", Scope.accounts_read, None),
    ("POST", "/v1/accounts", Scope.accounts_write, ACCOUNT),
    ("GET", "/v1/accounts/{account_id}", Scope.accounts_read, None),
    ("GET", "/v1/orders", Scope.orders_read, None),
    ("GET", "/v1/accounts/{account_id}/orders/{order_id}", Scope.orders_read, None),
    (
        "GET",
        "/v1/accounts/{account_id}/orders/{order_id}/cancel-options",
        Scope.orders_read,
        None,
    ),
    (
        "POST",
        "/v1/accounts/{account_id}/orders/{order_id}/cancellations",
        Scope.orders_cancel,
        {"reason": "other"},
    ),
    (
        "GET",
        "/v1/accounts/{account_id}/orders/{order_id}/cancellations",
        Scope.orders_read,
        None,
    ),
    ("GET", "/v1/cancellations/{cancellation_id}", Scope.orders_read, None),
    ("GET", "/v1/webhook-events", Scope.events_read, None),
    ("GET", "/v1/webhook-events/{event_id}", Scope.events_read, None),
    ("POST", "/v1/webhook-events/{event_id}/replay", Scope.events_replay, None),
    ("GET", "/v1/api-keys", Scope.api_keys_admin, None),
    (
        "POST",
        "/v1/api-keys",
        Scope.api_keys_admin,
        {"name": "minted", "scopes": ["api-keys:admin"]},
    ),
    ("POST", "/v1/api-keys/{key_id}/revoke", Scope.api_keys_admin, None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _, _ in ROUTES]


async def make_key(
    sessionmaker: async_sessionmaker[AsyncSession], *scopes: Scope, revoked: bool = False
) -> str:
    async with sessionmaker() as session, session.begin():
        stored, key = await api_key_service.create(session, name="test", scopes=scopes)
        if revoked:
            await api_key_service.revoke(session, stored.id)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def call(
    client: httpx.AsyncClient,
    route: tuple[str, str, Scope, dict[str, Any] | None],
    headers: dict[str, str],
) -> httpx.Response:
    method, path, _, body = route
    return await client.request(method, path.format(**PATH_VALUES), headers=headers, json=body)


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
class TestEveryRoute:
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer wrong-token-123"},
            {"Authorization": "Bearer osk_not-a-key-that-exists"},
            {"Authorization": "Basic abc"},
        ],
        ids=["missing", "wrong", "unknown-key", "other-scheme"],
    )
    async def test_without_a_valid_key_is_401(
        self,
        anonymous: httpx.AsyncClient,
        route: tuple[str, str, Scope, dict[str, Any] | None],
        headers: dict[str, str],
    ) -> None:
        assert_unauthorized(await call(anonymous, route, headers))

    async def test_a_revoked_key_is_401(
        self,
        anonymous: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        route: tuple[str, str, Scope, dict[str, Any] | None],
    ) -> None:
        key = await make_key(sessionmaker, *Scope, revoked=True)
        assert_unauthorized(await call(anonymous, route, bearer(key)))

    async def test_a_key_without_the_scope_is_403(
        self,
        anonymous: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        route: tuple[str, str, Scope, dict[str, Any] | None],
    ) -> None:
        needed = route[2]
        key = await make_key(sessionmaker, *(scope for scope in Scope if scope != needed))
        response = await call(anonymous, route, bearer(key))
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "insufficient_scope"
        assert problem["required_scopes"] == [needed.value]
        assert needed.value in problem["detail"]
        assert f'scope="{needed.value}"' in response.headers["www-authenticate"]

    async def test_a_key_with_the_scope_gets_through(
        self,
        anonymous: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        route: tuple[str, str, Scope, dict[str, Any] | None],
    ) -> None:
        key = await make_key(sessionmaker, route[2])
        response = await call(anonymous, route, bearer(key))
        assert response.status_code not in (401, 403), response.text

    async def test_the_bootstrap_token_holds_every_scope(
        self, api: httpx.AsyncClient, route: tuple[str, str, Scope, dict[str, Any] | None]
    ) -> None:
        response = await call(api, route, {})
        assert response.status_code not in (401, 403), response.text


async def test_the_docs_list_each_routes_scope(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    declared = {
        (method.upper(), path): operation.get("security")
        for path, operations in spec["paths"].items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
    }
    # Every /v1 route, including any added after this table was written, declares one scope.
    scopes = {scope.value for scope in Scope}
    for operation, security in declared.items():
        assert security is not None, operation
        assert [list(requirement) for requirement in security] == [["ApiKey"]], operation
        assert len(security[0]["ApiKey"]) == 1, operation
        assert security[0]["ApiKey"][0] in scopes, operation
    for method, path, scope, _ in ROUTES:
        assert declared[method, path] == [{"ApiKey": [scope.value]}], (method, path)
        responses = spec["paths"][path][method.lower()]["responses"]
        assert {"401", "403"} <= set(responses)
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    # The webhook takes no API key: its security is Lazada's push signature.
    assert spec["paths"]["/webhooks/lazada"]["post"]["security"] == [{"LazadaPushSignature": []}]


class TestLastUsed:
    async def test_is_stamped_at_most_once_a_minute(
        self, anonymous: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        key = await make_key(sessionmaker, Scope.orders_read)
        stamp = "SELECT last_used_at FROM api_keys"
        assert await scalar(sessionmaker, stamp) is None
        assert (await anonymous.get("/v1/orders", headers=bearer(key))).status_code == 200
        first = await scalar(sessionmaker, stamp)
        assert first is not None
        assert (await anonymous.get("/v1/orders", headers=bearer(key))).status_code == 200
        assert await scalar(sessionmaker, stamp) == first  # no write for a second use
        async with sessionmaker() as session, session.begin():
            await session.execute(
                text("UPDATE api_keys SET last_used_at = now() - interval '61 seconds'")
            )
        older = await scalar(sessionmaker, stamp)
        assert (await anonymous.get("/v1/orders", headers=bearer(key))).status_code == 200
        assert await scalar(sessionmaker, stamp) > older


class TestAdminApi:
    async def test_create_list_revoke(
        self, api: httpx.AsyncClient, anonymous: httpx.AsyncClient
    ) -> None:
        created = await api.post(
            "/v1/api-keys", json={"name": "erp", "scopes": ["orders:read", "orders:read"]}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        key = body["key"]
        assert key.startswith("osk_")
        assert body["prefix"] == key[:12]
        assert body["scopes"] == ["orders:read"]
        assert (await anonymous.get("/v1/orders", headers=bearer(key))).status_code == 200

        listed = await api.get("/v1/api-keys")
        assert [k["name"] for k in listed.json()] == ["erp"]
        assert key not in listed.text
        assert "key_hash" not in listed.text

        revoked = await api.post(f"/v1/api-keys/{body['id']}/revoke")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        assert_unauthorized(await anonymous.get("/v1/orders", headers=bearer(key)))
        again = await api.post(f"/v1/api-keys/{body['id']}/revoke")
        assert again.status_code == 409
        assert again.json()["code"] == "api_key_revoked"
        missing = await api.post(f"/v1/api-keys/{ZERO}/revoke")
        assert missing.status_code == 404
        assert missing.json()["code"] == "api_key_not_found"

    async def test_a_key_grants_no_scope_it_does_not_hold(
        self, anonymous: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        admin = await make_key(sessionmaker, Scope.api_keys_admin, Scope.orders_read)
        response = await anonymous.post(
            "/v1/api-keys",
            headers=bearer(admin),
            json={"name": "wider", "scopes": ["orders:read", "orders:cancel"]},
        )
        assert response.status_code == 403
        assert response.json()["required_scopes"] == ["orders:cancel"]
        assert await scalar(sessionmaker, "SELECT count(*) FROM api_keys") == 1

    async def test_unknown_scopes_are_refused(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/v1/api-keys", json={"name": "x", "scopes": ["orders:*"]})
        assert response.status_code == 422
        assert (await api.post("/v1/api-keys", json={"name": "x", "scopes": []})).status_code == 422
