from __future__ import annotations

import httpx
import pytest

ACCOUNT = {
    "marketplace": "lazada",
    "seller_id": "1001",
    "country": "sg",
    "access_token": "secret-access-token-value",
    "refresh_token": "secret-refresh-token-value",
    "access_token_expires_at": "2026-12-01T00:00:00Z",
}


class TestCreate:
    async def test_created_account_never_shows_tokens(self, api: httpx.AsyncClient) -> None:
        response = await api.post("/v1/accounts", json=ACCOUNT)
        assert response.status_code == 201
        body = response.json()
        assert body["seller_id"] == "1001"
        assert body["needs_reauth"] is False
        for answer in (
            response,
            await api.get(f"/v1/accounts/{body['id']}"),
            await api.get("/v1/accounts"),
        ):
            assert "secret-access-token-value" not in answer.text
            assert "secret-refresh-token-value" not in answer.text

    async def test_duplicate_is_a_conflict(self, api: httpx.AsyncClient) -> None:
        assert (await api.post("/v1/accounts", json=ACCOUNT)).status_code == 201
        response = await api.post("/v1/accounts", json=ACCOUNT)
        assert response.status_code == 409
        assert response.json()["code"] == "account_exists"

    @pytest.mark.parametrize(
        "change",
        [
            {"country": "us"},
            {"marketplace": "amazon"},
            {"seller_id": ""},
            {"seller_id": "1; DROP TABLE orders"},
            {"access_token": ""},
            {"access_token_expires_at": "soon"},
        ],
    )
    async def test_invalid_input_is_a_422_problem_without_echo(
        self, api: httpx.AsyncClient, change: dict[str, str]
    ) -> None:
        response = await api.post("/v1/accounts", json={**ACCOUNT, **change})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "validation_error"
        assert "secret-access-token-value" not in response.text

    async def test_unknown_account_is_404(self, api: httpx.AsyncClient) -> None:
        response = await api.get("/v1/accounts/00000000-0000-0000-0000-000000000000")
        assert response.status_code == 404
        assert response.json()["code"] == "account_not_found"
        assert (await api.get("/v1/accounts/not-a-uuid")).status_code == 422


class TestAuth:
    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer wrong-token-123"}, {"Authorization": "Basic abc"}],
        ids=["missing", "wrong", "other-scheme"],
    )
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/accounts"),
            ("POST", "/v1/accounts"),
            ("GET", "/v1/accounts/00000000-0000-0000-0000-000000000000"),
            ("GET", "/v1/orders"),
            ("GET", "/v1/accounts/00000000-0000-0000-0000-000000000000/orders/1"),
            ("GET", "/v1/webhook-events"),
            ("GET", "/v1/webhook-events/1"),
            ("POST", "/v1/webhook-events/1/replay"),
        ],
    )
    async def test_every_v1_route_needs_a_valid_token(
        self, anonymous: httpx.AsyncClient, headers: dict[str, str], method: str, path: str
    ) -> None:
        response = await anonymous.request(method, path, headers=headers, json=ACCOUNT)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unauthorized"

    async def test_docs_and_health_are_public(self, anonymous: httpx.AsyncClient) -> None:
        assert (await anonymous.get("/docs")).status_code == 200
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = (await anonymous.get("/readyz")).json()
        assert (ready["status"], ready["database"], ready["spool_depth"]) == ("ready", "up", 0)
        assert [(loop["name"], loop["state"]) for loop in ready["loops"]] == [
            ("spool-drainer", "running")
        ]
        spec = (await anonymous.get("/openapi.json")).json()
        assert "/webhooks/lazada" in spec["paths"]
        assert spec["paths"]["/v1/accounts"]["post"]["responses"]["409"]

    async def test_unknown_route_is_a_problem(self, anonymous: httpx.AsyncClient) -> None:
        response = await anonymous.get("/nope")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        wrong_method = await anonymous.get("/webhooks/lazada")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["code"] == "method_not_allowed"
