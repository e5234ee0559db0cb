"""The OpenAPI document says what the service does: each error once, required headers as
required, the webhook's body and signature, every code a route answers with."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest

from tests.helpers import signed_headers

CANCEL = "/v1/accounts/{account_id}/orders/{order_id}/cancellations"
OPTIONS = "/v1/accounts/{account_id}/orders/{order_id}/cancel-options"
BACKFILL = "/v1/accounts/{account_id}/backfill"
WEBHOOK = "/webhooks/lazada"
ERROR = re.compile(r"(.+) \(`code`: `([a-z_]+)`\)")
SEPARATOR = re.compile(r"(?<=`\)); ")


@pytest.fixture
async def document(anonymous: httpx.AsyncClient) -> dict[str, Any]:
    response = await anonymous.get("/openapi.json")
    assert response.status_code == 200
    openapi: dict[str, Any] = response.json()
    return openapi


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _codes(response: dict[str, Any]) -> list[str]:
    """The problem codes a documented response names in its description."""
    return re.findall(r"`code`: `([a-z_]+)`", response["description"])


def _problem_examples(response: dict[str, Any]) -> dict[str, dict[str, Any]]:
    content = response["content"]["application/problem+json"]
    if "examples" in content:
        return {code: example["value"] for code, example in content["examples"].items()}
    return {content["example"]["code"]: content["example"]}


class TestErrors:
    def test_no_response_names_an_error_twice(self, document: dict[str, Any]) -> None:
        for method, path, operation in _operations(document):
            for status, response in operation["responses"].items():
                if status[0] not in "45":
                    continue
                where = (method, path, status, response["description"])
                # "Title (`code`: `x`); Other title (`code`: `y`)": each error once, one format.
                parts = [ERROR.fullmatch(p) for p in SEPARATOR.split(response["description"])]
                assert all(parts), where
                titles = [m.group(1) for m in parts if m]
                codes = [m.group(2) for m in parts if m]
                assert len(titles) == len(set(titles)), where
                assert len(codes) == len(set(codes)), where
                # Each named code has an example of its own body.
                assert set(_problem_examples(response)) == set(codes), where

    @pytest.mark.parametrize(
        ("path", "method", "status", "codes"),
        [
            (CANCEL, "post", "400", {"idempotency_key_required"}),
            (CANCEL, "post", "404", {"account_not_found", "order_not_found_at_marketplace"}),
            (
                CANCEL,
                "post",
                "409",
                {
                    "items_not_cancellable",
                    "package_cascade_refused",
                    "already_cancelled",
                    "order_shipped",
                    "marketplace_refused",
                },
            ),
            (
                CANCEL,
                "post",
                "422",
                {
                    "validation_error",
                    "invalid_value",
                    "idempotency_key_reused",
                    "unknown_items",
                    "reason_not_supported",
                    "invalid_order_number",
                    "whole_order_only",
                    "marketplace_rejected_input",
                },
            ),
            (CANCEL, "post", "424", {"marketplace_auth_failed", "credentials_unreadable"}),
            (CANCEL, "post", "503", {"marketplace_unavailable"}),
            (OPTIONS, "get", "424", {"marketplace_auth_failed", "credentials_unreadable"}),
            (BACKFILL, "post", "424", {"credentials_unreadable"}),
            (WEBHOOK, "post", "400", {"invalid_push", "malformed_json"}),
            (WEBHOOK, "post", "401", {"invalid_signature", "missing_signature"}),
            (WEBHOOK, "post", "413", {"push_too_large"}),
        ],
    )
    def test_every_code_a_route_answers_with_is_documented(
        self, document: dict[str, Any], path: str, method: str, status: str, codes: set[str]
    ) -> None:
        response = document["paths"][path][method]["responses"][status]
        assert set(_codes(response)) == codes
        for code, example in _problem_examples(response).items():
            assert (example["code"], example["status"]) == (code, int(status))


class TestHeaders:
    def test_idempotency_key_is_required(self, document: dict[str, Any]) -> None:
        parameters = document["paths"][CANCEL]["post"]["parameters"]
        (header,) = [p for p in parameters if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header"
        assert header["required"] is True
        assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}

    async def test_a_missing_idempotency_key_still_gets_our_problem(
        self, api: httpx.AsyncClient
    ) -> None:
        response = await api.post(
            "/v1/accounts/00000000-0000-0000-0000-000000000000/orders/1/cancellations",
            json={"reason": "other"},
        )
        assert response.status_code == 400
        assert response.json()["code"] == "idempotency_key_required"


class TestWebhook:
    def test_the_signature_header_is_documented_as_its_security(
        self, document: dict[str, Any]
    ) -> None:
        operation = document["paths"][WEBHOOK]["post"]
        ((scheme_name, _),) = [item for entry in operation["security"] for item in entry.items()]
        scheme = document["components"]["securitySchemes"][scheme_name]
        assert scheme["type"] == "apiKey"
        assert (scheme["in"], scheme["name"]) == ("header", "Authorization")
        assert "HMAC-SHA256" in scheme["description"]

    async def test_the_body_is_documented_with_an_example_lazada_would_send(
        self, document: dict[str, Any], anonymous: httpx.AsyncClient
    ) -> None:
        body = document["paths"][WEBHOOK]["post"]["requestBody"]
        assert body["required"] is True
        content = body["content"]["application/json"]
        schema = content["schema"]
        assert set(schema["required"]) == {"seller_id", "message_type", "data"}
        assert {"seller_id", "message_type", "data", "timestamp", "site"} <= set(
            schema["properties"]
        )
        example = content["example"]
        assert set(example) <= set(schema["properties"])
        # The example is a real push: signed, the service takes it.
        raw = orjson.dumps(example)
        accepted = await anonymous.post(WEBHOOK, content=raw, headers=signed_headers(raw))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"
        unsigned = await anonymous.post(WEBHOOK, content=raw)
        assert unsigned.status_code == 401
        assert unsigned.json()["code"] == "missing_signature"
