"""Cancelling Newegg orders through our API, against the Newegg sandbox over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.cancellations.helpers import calls, cancel
from tests.fixtures.services import WorkerHarness, wait_for

SELLER = "A006"
CANCEL = "PUT /ordermgmt/orderstatus/orders/{n}"


async def _connect(api: httpx.AsyncClient, newegg: httpx.AsyncClient, site: str = "us") -> str:
    seller = (
        await newegg.post("/_sandbox/sellers", json={"seller_id": SELLER, "sites": [site]})
    ).json()
    response = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "newegg",
            "seller_id": SELLER,
            "site": site,
            "api_key": seller["api_key"],
            "secret_key": seller["secret_key"],
        },
    )
    assert response.status_code == 201, response.text
    assert seller["secret_key"] not in response.text
    return str(response.json()["id"])


async def _order(newegg: httpx.AsyncClient, **fields: Any) -> int:
    created = (await newegg.post("/_sandbox/orders", json={"seller_id": SELLER, **fields})).json()
    return int(created["order_number"])


async def _truth(newegg: httpx.AsyncClient, number: int) -> dict[str, Any]:
    truth: dict[str, Any] = (await newegg.get(f"/_sandbox/orders/{number}")).json()
    return truth


def _cancel_calls(counts: dict[str, int]) -> int:
    return sum(n for api, n in counts.items() if api.startswith("PUT") and "orderstatus" in api)


class TestHappyPath:
    @pytest.mark.parametrize("site", ["us", "b2b", "ca"])
    async def test_seller_fulfilled_order_is_voided(
        self, site: str, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg, site)
        number = await _order(newegg, site=site)
        response = await cancel(api, account, number, {"reason": "pricing_error"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "succeeded"
        assert body["marketplace_code"] == "Void"
        assert body["details"]["reason_code"] == 73
        truth = await _truth(newegg, number)
        assert truth["order_status_name"] == "Void"
        assert truth["cancel_reason_code"] == 73

    async def test_byte_order_mark_answers_parse(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        number = await _order(newegg)
        await newegg.put("/_sandbox/faults", json={"bom": True})
        options = await api.get(f"/v1/accounts/{account}/orders/{number}/cancel-options")
        assert options.status_code == 200, options.text
        assert options.json()["cancellable"] is True
        response = await cancel(api, account, number, {"reason": "out_of_stock"})
        assert response.status_code == 201, response.text


class TestRefusals:
    async def test_order_number_out_of_range_is_refused_before_calling(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        for number in ("0", "2147483648"):
            response = await cancel(api, account, number, {"reason": "out_of_stock"})
            assert response.status_code == 422
            assert response.json()["code"] == "invalid_order_number"
        assert await calls(newegg) == {}

    async def test_reason_newegg_cannot_express(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        number = await _order(newegg)
        response = await cancel(api, account, number, {"reason": "sourcing_delay"})
        assert response.status_code == 422
        problem = response.json()
        assert problem["code"] == "reason_not_supported"
        assert problem["accepted_reasons"] == [
            "out_of_stock",
            "customer_request",
            "pricing_error",
            "unable_to_fulfill",
        ]

    @pytest.mark.parametrize(
        ("status", "code", "http", "marketplace_code"),
        [
            ("Voided", "already_cancelled", 409, "SO008"),
            ("Shipped", "order_shipped", 409, "SO027"),
        ],
    )
    async def test_documented_refusals(
        self,
        status: str,
        code: str,
        http: int,
        marketplace_code: str,
        api: httpx.AsyncClient,
        newegg: httpx.AsyncClient,
    ) -> None:
        account = await _connect(api, newegg)
        number = await _order(newegg, status=status)
        response = await cancel(api, account, number, {"reason": "out_of_stock"})
        assert response.status_code == http
        assert response.json()["code"] == code
        assert response.json()["marketplace_code"] == marketplace_code
        assert response.json()["marketplace_message"]

    async def test_unknown_order_is_404(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        response = await cancel(api, account, 12345, {"reason": "out_of_stock"})
        assert response.status_code == 404
        assert response.json()["marketplace_code"] == "SO003"

    async def test_bad_credentials(self, api: httpx.AsyncClient, newegg: httpx.AsyncClient) -> None:
        await newegg.post("/_sandbox/sellers", json={"seller_id": SELLER})
        account = (
            await api.post(
                "/v1/accounts",
                json={
                    "marketplace": "newegg",
                    "seller_id": SELLER,
                    "site": "us",
                    "api_key": "wrong",
                    "secret_key": "wrong",
                },
            )
        ).json()["id"]
        number = await _order(newegg)
        response = await cancel(api, account, number, {"reason": "out_of_stock"})
        assert response.status_code == 424
        assert response.json()["code"] == "marketplace_auth_failed"


class TestSafety:
    async def test_lost_response_then_retry_does_not_cancel_twice(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        number = await _order(newegg)
        await newegg.put("/_sandbox/faults", json={"drop_after_commit_next": 1})
        response = await cancel(api, account, number, {"reason": "out_of_stock"})
        assert response.status_code == 201, response.text
        assert _cancel_calls(await calls(newegg)) == 1
        assert (await _truth(newegg, number))["order_status_name"] == "Void"

    async def test_rate_limited_cancel_is_retried_after_the_reset(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        number = await _order(newegg)
        await newegg.put("/_sandbox/faults", json={"fail_next": 1, "fail_status": 503})
        response = await cancel(api, account, number, {"reason": "out_of_stock"})
        assert response.status_code == 201, response.text
        assert _cancel_calls(await calls(newegg)) >= 1
        assert (await _truth(newegg, number))["order_status_name"] == "Void"

    async def test_429_leaves_it_processing_without_holding_the_caller(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        first, second = await _order(newegg), await _order(newegg)
        await newegg.put("/_sandbox/faults", json={"rate_limit_per_hour": 1})
        assert (await cancel(api, account, first, {"reason": "out_of_stock"})).status_code == 201
        # The hour's one cancel is spent: Newegg answers 429 with a reset an hour away.
        response = await cancel(api, account, second, {"reason": "out_of_stock"})
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["status"] == "processing"
        assert body["details"] == {"awaiting": "resume"}
        assert (await _truth(newegg, second))["order_status_name"] == "Unshipped"


class TestShippedByNewegg:
    @pytest.mark.parametrize(
        ("decision", "final"), [("Success", "succeeded"), ("Failed", "rejected")]
    )
    async def test_processing_then_the_warehouse_decides(
        self,
        decision: str,
        final: str,
        api: httpx.AsyncClient,
        newegg: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = await _connect(api, newegg)
        number = await _order(newegg, fulfillment="sbn")
        response = await cancel(api, account, number, {"reason": "customer_request"})
        assert response.status_code == 202, response.text
        cancellation = response.json()
        assert cancellation["status"] == "processing"
        await newegg.post(
            f"/_sandbox/orders/{number}/sbn-result",
            json={
                "result": decision,
                "error_message": "already picked" if decision == "Failed" else None,
            },
        )
        await worker.start()

        async def decided() -> dict[str, Any] | None:
            found: dict[str, Any] = (
                await api.get(f"/v1/cancellations/{cancellation['id']}")
            ).json()
            return found if found["status"] != "processing" else None

        done = await wait_for(decided, what="the SBN decision to be recorded")
        assert done is not None
        assert done["status"] == final
        assert done["marketplace_code"] == decision
        assert _cancel_calls(await calls(newegg)) == 1


class TestIdempotency:
    async def test_replay_and_concurrent_duplicates_call_newegg_once(
        self, api: httpx.AsyncClient, newegg: httpx.AsyncClient
    ) -> None:
        account = await _connect(api, newegg)
        number = await _order(newegg)
        # Slow answers make the two requests overlap: the second must wait for the first.
        await newegg.put("/_sandbox/faults", json={"latency_ms": 300})
        body = {"reason": "customer_request"}
        first, second = await asyncio.gather(
            cancel(api, account, number, body, key="dup"),
            cancel(api, account, number, body, key="dup"),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 201]
        assert first.json()["id"] == second.json()["id"]
        third = await cancel(api, account, number, body, key="dup")
        assert third.status_code == 200
        assert _cancel_calls(await calls(newegg)) == 1
