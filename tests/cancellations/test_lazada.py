"""Cancelling Lazada items through our API, against the sandbox over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import connect_seller, sandbox_calls

SELLER = "200549968600"


async def _order(sandbox: httpx.AsyncClient, items: list[dict[str, Any]]) -> dict[str, Any]:
    response = await sandbox.post(
        "/_sandbox/orders", json={"seller_id": SELLER, "items": items, "push": False}
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def _cancel(
    api: httpx.AsyncClient,
    account_id: str,
    order_id: Any,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    return await api.post(
        f"/v1/accounts/{account_id}/orders/{order_id}/cancellations",
        json=body,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


def _ids(created: dict[str, Any]) -> list[str]:
    return [str(item["order_item_id"]) for item in created["items"]]


async def _truth(sandbox: httpx.AsyncClient, order_id: Any) -> dict[str, str]:
    truth = (await sandbox.get(f"/_sandbox/orders/{order_id}")).json()
    return {str(i["order_item_id"]): i["status"] for i in truth["items"]}


class TestHappyPath:
    async def test_cancel_one_pending_item(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}])
        order_id = created["order"]["order_id"]
        first, *others = _ids(created)

        response = await _cancel(
            api, account["id"], order_id, {"item_ids": [first], "reason": "out_of_stock"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "succeeded"
        assert body["cancelled_item_ids"] == [first]
        assert "stock" in body["marketplace_message"]
        assert body["details"]["reason_name"] == "Out of Stock"
        assert [s["name"] for s in body["steps"]][:3] == [
            "lazada.get_order_items",
            "lazada.cancel_validate",
            "lazada.cancel_create",
        ]
        assert await _truth(sandbox, order_id) == {
            first: "canceled",
            **{other: "pending" for other in others},
        }
        # Re-synced: our stored copy already shows the cancellation.
        stored = (await api.get(f"/v1/accounts/{account['id']}/orders/{order_id}")).json()
        assert {i["order_item_id"]: i["status"] for i in stored["items"]}[first] == "canceled"
        listed = (
            await api.get(f"/v1/accounts/{account['id']}/orders/{order_id}/cancellations")
        ).json()
        assert [c["id"] for c in listed] == [body["id"]]
        assert (await api.get(f"/v1/cancellations/{body['id']}")).json()["status"] == "succeeded"

    async def test_options_offer_country_reasons_and_cascade(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox, country="sg"))["account"]
        created = await _order(
            sandbox,
            [
                {"sku": "A", "status": "packed", "package_id": "P1"},
                {"sku": "B", "status": "packed", "package_id": "P1"},
            ],
        )
        first, second = _ids(created)
        options = (
            await api.get(
                f"/v1/accounts/{account['id']}/orders/{created['order']['order_id']}"
                "/cancel-options",
                params={"item_ids": first},
            )
        ).json()
        assert options["cancellable"] is True
        assert options["also_cancels"] == [second]
        reasons = {r["marketplace_reason_id"]: r["reason"] for r in options["reasons"]}
        assert reasons["10000021"] == "out_of_stock"
        assert reasons["10000019"] == "sourcing_delay"
        assert "stock may be set to 0" in options["tip"]
        assert await sandbox_calls(sandbox) == {
            "/order/items/get": 1,
            "/order/reverse/cancel/validate": 1,
        }


class TestTheRest:
    """No ``item_ids``: every item still cancellable, whatever happened to the others."""

    async def test_after_a_partial_cancel_the_rest_are_cancelled(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}])
        order_id = created["order"]["order_id"]
        first, *others = _ids(created)
        partial = await _cancel(
            api, account["id"], order_id, {"item_ids": [first], "reason": "out_of_stock"}
        )
        assert partial.status_code == 201, partial.text
        options_path = f"/v1/accounts/{account['id']}/orders/{order_id}/cancel-options"
        options = (await api.get(options_path)).json()
        assert options["cancellable"] is True, options
        assert {i["order_item_id"]: i["cancellable"] for i in options["items"]} == {
            first: False,
            **{other: True for other in others},
        }

        rest = await _cancel(api, account["id"], order_id, {"reason": "out_of_stock"})
        assert rest.status_code == 201, rest.text
        body = rest.json()
        assert body["status"] == "succeeded"
        assert body["item_ids"] == []
        assert body["cancelled_item_ids"] == others
        assert body["details"]["resolved_item_ids"] == others
        assert body["details"]["skipped_items"] == [{"order_item_id": first, "status": "canceled"}]
        assert await _truth(sandbox, order_id) == dict.fromkeys([first, *others], "canceled")
        assert (await sandbox_calls(sandbox))["/order/reverse/cancel/create"] == 2

        # Nothing left: now, and only now, it is refused, and cancel-options says why.
        again = await _cancel(api, account["id"], order_id, {"reason": "out_of_stock"})
        assert again.status_code == 409
        assert again.json()["code"] == "already_cancelled"
        assert {i["status"] for i in again.json()["items"]} == {"canceled"}
        assert (await sandbox_calls(sandbox))["/order/reverse/cancel/create"] == 2
        options = (await api.get(options_path)).json()
        assert options["cancellable"] is False
        assert "already cancelled" in options["blocked_reason"]

    async def test_shipped_items_are_left_as_they_are(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A", "status": "shipped"}, {"sku": "B"}])
        order_id = created["order"]["order_id"]
        shipped, pending = _ids(created)
        rest = await _cancel(api, account["id"], order_id, {"reason": "out_of_stock"})
        assert rest.status_code == 201, rest.text
        assert rest.json()["cancelled_item_ids"] == [pending]
        assert rest.json()["details"]["skipped_items"] == [
            {"order_item_id": shipped, "status": "shipped"}
        ]
        assert await _truth(sandbox, order_id) == {shipped: "shipped", pending: "canceled"}

        none_left = await _cancel(api, account["id"], order_id, {"reason": "out_of_stock"})
        assert none_left.status_code == 409
        problem = none_left.json()
        assert problem["code"] == "items_not_cancellable"
        assert f"{shipped} is shipped" in problem["detail"]
        assert problem["items"] == [
            {"order_item_id": shipped, "status": "shipped"},
            {"order_item_id": pending, "status": "canceled"},
        ]

    async def test_a_lost_answer_is_checked_against_the_items_it_was_for(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A"}, {"sku": "B"}])
        order_id = created["order"]["order_id"]
        first, second = _ids(created)
        await _cancel(api, account["id"], order_id, {"item_ids": [first], "reason": "out_of_stock"})
        await sandbox.put("/_sandbox/faults", json={"drop_after_commit_next": 1})
        rest = await _cancel(api, account["id"], order_id, {"reason": "out_of_stock"})
        assert rest.status_code == 201, rest.text
        # The call landed, its answer was lost; the check found the rest cancelled: one call.
        assert rest.json()["cancelled_item_ids"] == [second]
        assert (await sandbox_calls(sandbox))["/order/reverse/cancel/create"] == 2
        assert ("lazada.cancel_create.check", True) in [
            (s["name"], s["ok"]) for s in rest.json()["steps"]
        ]


class TestRefusals:
    async def test_items_in_a_late_status_are_refused_with_their_statuses(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A", "status": "shipped"}, {"sku": "B"}])
        shipped, pending = _ids(created)
        response = await _cancel(
            api,
            account["id"],
            created["order"]["order_id"],
            {"item_ids": [shipped, pending], "reason": "out_of_stock"},
        )
        assert response.status_code == 409
        problem = response.json()
        assert problem["code"] == "items_not_cancellable"
        assert problem["items"] == [{"order_item_id": shipped, "status": "shipped"}]
        assert "cancellation_id" in problem
        assert "/order/reverse/cancel/create" not in await sandbox_calls(sandbox)
        stored = (await api.get(f"/v1/cancellations/{problem['cancellation_id']}")).json()
        assert stored["status"] == "rejected"
        assert stored["error_code"] == "items_not_cancellable"

    async def test_package_cascade_needs_consent(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(
            sandbox,
            [
                {"sku": "A", "status": "packed", "package_id": "P9"},
                {"sku": "B", "status": "packed", "package_id": "P9"},
                {"sku": "C"},
            ],
        )
        first, second, third = _ids(created)
        order_id = created["order"]["order_id"]
        refused = await _cancel(
            api, account["id"], order_id, {"item_ids": [first], "reason": "out_of_stock"}
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "package_cascade_refused"
        assert refused.json()["cascade_item_ids"] == [second]
        assert set((await _truth(sandbox, order_id)).values()) == {"packed", "pending"}

        accepted = await _cancel(
            api,
            account["id"],
            order_id,
            {"item_ids": [first], "reason": "out_of_stock", "allow_package_cascade": True},
        )
        assert accepted.status_code == 201, accepted.text
        assert accepted.json()["cancelled_item_ids"] == [first, second]
        assert await _truth(sandbox, order_id) == {
            first: "canceled",
            second: "canceled",
            third: "pending",
        }

    async def test_reason_the_country_cannot_express(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A"}])
        response = await _cancel(
            api, account["id"], created["order"]["order_id"], {"reason": "other"}
        )
        assert response.status_code == 422
        problem = response.json()
        assert problem["code"] == "reason_not_supported"
        assert "out_of_stock" in problem["accepted_reasons"]
        assert "/order/reverse/cancel/create" not in await sandbox_calls(sandbox)

    async def test_marketplace_reason_id_is_used_as_given(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox, country="sg"))["account"]
        created = await _order(sandbox, [{"sku": "A"}])
        response = await _cancel(
            api,
            account["id"],
            created["order"]["order_id"],
            {"reason": "other", "marketplace_reason_id": "10000019"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["details"]["reason_name"] == "Sourcing Delay"

    async def test_unknown_order_and_unknown_items(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        missing = await _cancel(api, account["id"], "999999", {"reason": "out_of_stock"})
        assert missing.status_code == 404
        assert missing.json()["code"] == "order_not_found_at_marketplace"
        assert missing.json()["marketplace_code"] == "16"
        created = await _order(sandbox, [{"sku": "A"}])
        unknown = await _cancel(
            api,
            account["id"],
            created["order"]["order_id"],
            {"item_ids": ["123"], "reason": "out_of_stock"},
        )
        assert unknown.status_code == 422
        assert unknown.json()["code"] == "unknown_items"

    async def test_already_cancelled_item(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A", "status": "canceled"}])
        response = await _cancel(
            api, account["id"], created["order"]["order_id"], {"reason": "out_of_stock"}
        )
        assert response.status_code == 409
        assert response.json()["items"][0]["status"] == "canceled"


class TestIdempotency:
    async def test_same_key_same_body_calls_lazada_once(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A"}])
        body = {"reason": "out_of_stock"}
        first = await _cancel(api, account["id"], created["order"]["order_id"], body, key="k-1")
        again = await _cancel(api, account["id"], created["order"]["order_id"], body, key="k-1")
        assert first.status_code == 201
        assert again.status_code == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] == first.json()["id"]
        assert (await sandbox_calls(sandbox))["/order/reverse/cancel/create"] == 1

        other = await _cancel(
            api,
            account["id"],
            created["order"]["order_id"],
            {"reason": "pricing_error"},
            key="k-1",
        )
        assert other.status_code == 422
        assert other.json()["code"] == "idempotency_key_reused"

    async def test_refusals_replay_identically(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A", "status": "delivered"}])
        body = {"reason": "out_of_stock"}
        first = await _cancel(api, account["id"], created["order"]["order_id"], body, key="k-2")
        calls = await sandbox_calls(sandbox)
        again = await _cancel(api, account["id"], created["order"]["order_id"], body, key="k-2")
        assert first.status_code == again.status_code == 409
        assert first.json() == again.json()
        assert await sandbox_calls(sandbox) == calls

    async def test_missing_key_is_refused(self, api: httpx.AsyncClient) -> None:
        response = await api.post(
            f"/v1/accounts/{uuid.uuid4()}/orders/1/cancellations", json={"reason": "other"}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "idempotency_key_required"

    async def test_lost_response_then_retry_does_not_cancel_twice(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _order(sandbox, [{"sku": "A"}, {"sku": "B"}])
        first_item = _ids(created)[0]
        await sandbox.put("/_sandbox/faults", json={"drop_after_commit_next": 1})
        response = await _cancel(
            api,
            account["id"],
            created["order"]["order_id"],
            {"item_ids": [first_item], "reason": "out_of_stock"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "succeeded"
        # One cancel call landed (its answer was lost); the check found it done: no second call.
        assert (await sandbox_calls(sandbox))["/order/reverse/cancel/create"] == 1
        names = [(s["name"], s["ok"]) for s in body["steps"]]
        assert ("lazada.cancel_create", False) in names
        assert ("lazada.cancel_create.check", True) in names
