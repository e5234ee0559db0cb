"""Cancelling Shoplazza orders through our API, against the Shoplazza sandbox over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.cancellations.helpers import calls, cancel

SHOP = "acme.myshoplaza.com"
CANCEL = "POST /orders/{id}/cancel"


async def _connect(
    api: httpx.AsyncClient, shoplazza: httpx.AsyncClient, scopes: list[str] | None = None
) -> str:
    spec: dict[str, Any] = {"shop_domain": SHOP}
    if scopes is not None:
        spec["scopes"] = scopes
    shop = (await shoplazza.post("/_sandbox/shops", json=spec)).json()
    response = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "shoplazza",
            "shop_domain": SHOP,
            "access_token": shop["access_token"],
        },
    )
    assert response.status_code == 201, response.text
    assert shop["access_token"] not in response.text
    return str(response.json()["id"])


async def _order(shoplazza: httpx.AsyncClient, **fields: Any) -> str:
    created = (
        await shoplazza.post("/_sandbox/orders", json={"shop_domain": SHOP, **fields})
    ).json()
    return str(created["order"]["id"])


async def _truth(shoplazza: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = (await shoplazza.get(f"/_sandbox/orders/{order_id}")).json()["order"]
    return order


class TestHappyPath:
    async def test_unpaid_order_becomes_cancelled(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        response = await cancel(
            api, account, order_id, {"reason": "customer_request", "note": "changed mind"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "succeeded"
        assert body["details"]["order_status"] == "cancelled"
        truth = await _truth(shoplazza, order_id)
        assert truth["status"] == "cancelled"
        assert truth["cancel_reason"] == "Customer requested cancellation: changed mind"

    async def test_paid_order_moves_to_finished_and_that_is_stored(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza, financial_status="paid")
        options = (await api.get(f"/v1/accounts/{account}/orders/{order_id}/cancel-options")).json()
        assert options["cancellable"] is True
        assert options["free_text_reason"] is True
        assert options["whole_order_only"] is True
        response = await cancel(api, account, order_id, {"reason": "out_of_stock"})
        assert response.status_code == 201, response.text
        assert response.json()["details"]["order_status"] == "finished"
        assert response.json()["marketplace_message"] == "order status: finished"


class TestRefusals:
    async def test_already_cancelled_is_409(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        assert (await cancel(api, account, order_id, {"reason": "other"})).status_code == 201
        again = await cancel(api, account, order_id, {"reason": "other"})
        assert again.status_code == 409
        assert again.json()["code"] == "already_cancelled"
        assert again.json()["marketplace_code"] == "406"

    async def test_shipped_order_is_409(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza, financial_status="paid", fulfillment_status="shipped")
        response = await cancel(api, account, order_id, {"reason": "other"})
        assert response.status_code == 409
        assert response.json()["code"] == "order_shipped"

    async def test_unknown_order_is_404(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        response = await cancel(api, account, "633130-99999999", {"reason": "other"})
        assert response.status_code == 404
        assert response.json()["code"] == "order_not_found_at_marketplace"

    async def test_missing_write_scope_is_a_credentials_failure(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza, scopes=["read_order"])
        order_id = await _order(shoplazza)
        response = await cancel(api, account, order_id, {"reason": "other"})
        assert response.status_code == 424
        assert response.json()["code"] == "marketplace_auth_failed"
        assert response.json()["marketplace_code"] == "403"
        stored = (await api.get(f"/v1/cancellations/{response.json()['cancellation_id']}")).json()
        assert stored["status"] == "failed"

    async def test_items_are_refused_whole_order_only(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        response = await cancel(api, account, order_id, {"reason": "other", "item_ids": ["1"]})
        assert response.status_code == 422
        assert response.json()["code"] == "whole_order_only"
        assert await calls(shoplazza) == {}


class TestSafety:
    @pytest.mark.parametrize("mode", ["close", "500"])
    async def test_lost_response_is_checked_before_any_second_call(
        self, mode: str, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        await shoplazza.put(
            "/_sandbox/faults", json={"drop_after_commit_next": 1, "drop_mode": mode}
        )
        response = await cancel(api, account, order_id, {"reason": "other"})
        assert response.status_code == 201, response.text
        assert (await calls(shoplazza))[CANCEL] == 1
        assert (await _truth(shoplazza, order_id))["status"] == "cancelled"

    async def test_idempotent_replay_makes_no_second_call(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        first = await cancel(api, account, order_id, {"reason": "other"}, key="same")
        second = await cancel(api, account, order_id, {"reason": "other"}, key="same")
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"]
        assert (await calls(shoplazza))[CANCEL] == 1

    async def test_rate_limit_answers_are_retried(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        # A bucket of one: our client's second quick call meets a 429 with Retry-After.
        await shoplazza.put("/_sandbox/faults", json={"rate_limit_burst": 1, "rate_limit_per_s": 2})
        await shoplazza.get(f"/_sandbox/orders/{order_id}")
        options = await api.get(f"/v1/accounts/{account}/orders/{order_id}/cancel-options")
        assert options.status_code == 200
        response = await cancel(api, account, order_id, {"reason": "other"})
        assert response.status_code == 201, response.text
        assert (await _truth(shoplazza, order_id))["status"] == "cancelled"


class TestCredentialsAndInput:
    async def test_revoked_token_is_a_credentials_failure(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        # The shop issues a new token: ours is no longer valid.
        await shoplazza.post("/_sandbox/shops", json={"shop_domain": SHOP})
        response = await cancel(api, account, order_id, {"reason": "other"})
        assert response.status_code == 424
        assert response.json()["code"] == "marketplace_auth_failed"
        assert response.json()["marketplace_code"] == "401"

    async def test_reason_text_the_shop_rejects_is_a_422(
        self, api: httpx.AsyncClient, shoplazza: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, shoplazza)
        order_id = await _order(shoplazza)
        response = await cancel(api, account, order_id, {"reason": "other", "note": "x" * 400})
        assert response.status_code == 422
        assert response.json()["code"] == "marketplace_rejected_input"
        assert (await _truth(shoplazza, order_id))["status"] != "cancelled"
