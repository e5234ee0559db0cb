"""Push → inbox → worker → Lazada (the sandbox, over HTTP) → orders and items in Postgres."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.kit.server import BackgroundServer
from tests.fixtures.database import ENCRYPTION_KEY
from tests.fixtures.services import API_TOKEN, APP_KEY, APP_SECRET, WorkerHarness, wait_for
from tests.helpers import connect_seller, sandbox_calls, scalar

SELLER = "200549968600"


async def _new_order(sandbox: httpx.AsyncClient, items: int = 5, **fields: Any) -> dict[str, Any]:
    body = {"seller_id": SELLER, "items": [{"sku": f"SKU-{i}"} for i in range(items)], **fields}
    response = await sandbox.post("/_sandbox/orders", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    assert all(p["status_code"] == 200 for p in created["pushes"]), created["pushes"]
    return created


async def _pending_events(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    return int(
        await scalar(sessionmaker, "SELECT count(*) FROM external_events WHERE state = 'pending'")
    )


async def _settled(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async def no_pending() -> bool:
        return await _pending_events(sessionmaker) == 0

    await wait_for(no_pending, what="every push handled")


async def _stored_order(
    api: httpx.AsyncClient, account_id: str, order_id: int | str
) -> dict[str, Any]:
    response = await api.get(f"/v1/accounts/{account_id}/orders/{order_id}")
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


async def _sandbox_truth(sandbox: httpx.AsyncClient, order_id: int | str) -> dict[str, str]:
    truth = (await sandbox.get(f"/_sandbox/orders/{order_id}")).json()
    return {str(item["order_item_id"]): item["status"] for item in truth["items"]}


def _statuses(order: dict[str, Any]) -> dict[str, str]:
    return {item["order_item_id"]: item["status"] for item in order["items"]}


class TestSync:
    async def test_five_item_order_costs_one_fetch_pair(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(
            sandbox,
            price=100.5,
            voucher=10,
            shipping_fee=3.25,
            address={
                "address1": "12 Le Loi",
                "address3": "Ho Chi Minh",
                "address4": "District 1",
                "address5": "700000",
            },
        )
        assert len(created["pushes"]) == 5
        await worker.start()
        await _settled(sessionmaker)

        assert await sandbox_calls(sandbox) == {"/order/get": 1, "/order/items/get": 1}
        order = await _stored_order(api, account["id"], created["order"]["order_id"])
        assert order["item_statuses"] == ["pending"]
        assert Decimal(order["price"]) == Decimal("100.5")
        assert Decimal(order["buyer_paid"]) == Decimal("100.5") - 10 + Decimal("3.25")
        assert order["shipping_address"] == {
            "address": "12 Le Loi",
            "state": "Ho Chi Minh",
            "city": "District 1",
            "post_code": "700000",
            "country": "Vietnam",
        }
        assert len(order["items"]) == 5
        assert {item["sku"] for item in order["items"]} == {f"SKU-{i}" for i in range(5)}
        for item in order["items"]:
            assert [(h["from_status"], h["to_status"]) for h in item["history"]] == [
                (None, "pending")
            ]
        processed = await scalar(
            sessionmaker, "SELECT count(*) FROM external_events WHERE state = 'processed'"
        )
        assert processed == 5

    async def test_two_identical_units_are_two_items_and_iso_dates_parse(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(
            sandbox,
            items=1,
            date_format="iso",
            status="unpaid",
        )
        await sandbox.post(
            "/_sandbox/orders",
            json={"seller_id": SELLER, "items": [{"sku": "TWIN", "quantity": 2}], "push": True},
        )
        await worker.start()
        await _settled(sessionmaker)
        order = await _stored_order(api, account["id"], created["order"]["order_id"])
        assert order["placed_at"] is not None
        assert order["items"][0]["status_updated_at"] is not None
        listed = (await api.get("/v1/orders", params={"account_id": account["id"]})).json()
        twins = [o for o in listed["items"] if o["items"][0]["sku"] == "TWIN"]
        assert len(twins) == 1
        assert len(twins[0]["items"]) == 2

    async def test_status_changes_keep_history(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(sandbox, items=2)
        order_id = created["order"]["order_id"]
        await worker.start()
        await _settled(sessionmaker)
        first_item = created["items"][0]["order_item_id"]
        await sandbox.post(
            f"/_sandbox/orders/{order_id}/status",
            json={"status": "packed", "item_ids": [first_item]},
        )
        await _settled(sessionmaker)
        await sandbox.post(f"/_sandbox/orders/{order_id}/status", json={"status": "ready_to_ship"})
        await _settled(sessionmaker)

        order = await _stored_order(api, account["id"], order_id)
        assert _statuses(order) == await _sandbox_truth(sandbox, order_id)
        assert order["item_statuses"] == ["ready_to_ship"]
        history = {
            i["order_item_id"]: [h["to_status"] for h in i["history"]] for i in order["items"]
        }
        assert history[str(first_item)] == ["pending", "packed", "ready_to_ship"]
        other = next(k for k in history if k != str(first_item))
        assert history[other] == ["pending", "ready_to_ship"]

    async def test_out_of_order_and_duplicate_pushes_end_at_the_truth(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        await sandbox.put(
            "/_sandbox/faults", json={"reverse_pushes": True, "duplicate_pushes": True}
        )
        created = await _new_order(sandbox, items=3, status="unpaid")
        order_id = created["order"]["order_id"]
        for status in ("pending", "packed", "ready_to_ship"):
            moved = await sandbox.post(
                f"/_sandbox/orders/{order_id}/status", json={"status": status}
            )
            assert all(p["status_code"] == 200 for p in moved.json()["pushes"])
        # Each push arrived twice: only one of each is stored.
        assert await scalar(sessionmaker, "SELECT count(*) FROM external_events") == 12
        await worker.start()
        await _settled(sessionmaker)
        order = await _stored_order(api, account["id"], order_id)
        assert set(_statuses(order).values()) == {"ready_to_ship"}
        assert _statuses(order) == await _sandbox_truth(sandbox, order_id)


class TestFailures:
    async def test_transient_errors_then_success(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(sandbox, items=1)
        await sandbox.put("/_sandbox/faults", json={"fail_next": 2})
        await worker.start()
        await _settled(sessionmaker)
        order = await _stored_order(api, account["id"], created["order"]["order_id"])
        assert order["items"][0]["status"] == "pending"
        event = (await api.get("/v1/webhook-events")).json()["items"][0]
        assert event["state"] == "processed"
        assert event["attempts"] == 2
        calls = await sandbox_calls(sandbox)
        assert calls["/order/get"] == 3  # two 503s, then the answer

    async def test_throttling_is_retried(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(sandbox, items=1)
        await sandbox.put("/_sandbox/faults", json={"throttle_next": 2, "throttle_code": "901"})
        await worker.start()
        await _settled(sessionmaker)
        await _stored_order(api, account["id"], created["order"]["order_id"])
        event = (await api.get("/v1/webhook-events")).json()["items"][0]
        calls = (await sandbox.get("/_sandbox/calls")).json()
        assert calls["by_api"]["/order/get"] == 3  # two throttled answers, then the order
        assert calls["ok_by_api"]["/order/get"] == 1
        assert event["attempts"] == 2

    async def test_expired_token_is_refreshed_once_and_stored(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        connected = await connect_seller(api, sandbox)
        account = connected["account"]
        created = await _new_order(sandbox, items=2)
        await sandbox.put("/_sandbox/faults", json={"expire_access_tokens": True})
        await worker.start()
        await _settled(sessionmaker)
        await _stored_order(api, account["id"], created["order"]["order_id"])
        assert (await sandbox_calls(sandbox))["/auth/token/refresh"] == 1
        tokens = (
            await scalar(
                sessionmaker,
                "SELECT access_token || ' ' || refresh_token FROM marketplace_accounts",
            )
        ).split()
        assert tokens[0] != connected["seller"]["access_token"]
        assert tokens[1] != connected["seller"]["refresh_token"]
        refreshed = (await api.get(f"/v1/accounts/{account['id']}")).json()
        assert refreshed["access_token_expires_at"] is not None
        assert "access_token" not in refreshed

    async def test_refused_refresh_marks_the_account_and_pauses_its_pushes(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        await _new_order(sandbox, items=1)
        await sandbox.put(
            "/_sandbox/faults", json={"expire_access_tokens": True, "refuse_refresh": True}
        )
        await worker.start()

        async def paused() -> list[dict[str, Any]]:
            page = (await api.get("/v1/webhook-events", params={"state": "pending"})).json()
            items: list[dict[str, Any]] = page["items"]
            return [e for e in items if e["last_error"] and "paused" in e["last_error"]]

        (event,) = await wait_for(paused, what="the push to be paused")
        assert "AccountNeedsReauth" not in event["last_error"]
        assert "paused until the seller authorises the app again" in event["last_error"]
        assert "refused the refresh token" in event["last_error"]
        assert event["attempts"] == 0
        listed = (await api.get("/v1/accounts", params={"needs_reauth": "true"})).json()
        assert [a["id"] for a in listed] == [account["id"]]
        assert "refused" in listed[0]["reauth_reason"]
        assert (await sandbox_calls(sandbox))["/auth/token/refresh"] == 1

    async def test_parked_job_is_visible_and_replayable(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(sandbox, items=1)
        await sandbox.put("/_sandbox/faults", json={"fail_next": 1000})
        await worker.start()

        async def failed() -> list[dict[str, Any]]:
            page = (await api.get("/v1/webhook-events", params={"state": "failed"})).json()
            items: list[dict[str, Any]] = page["items"]
            return items

        (event,) = await wait_for(failed, what="the event to fail")
        assert event["attempts"] == settings.sync_max_attempts
        assert "MarketplaceUnavailable" in event["last_error"]
        calls = await sandbox_calls(sandbox)
        assert calls["/order/get"] == settings.sync_max_attempts  # one attempt each, no more

        async def nothing_waits() -> bool:
            jobs = await scalar(sessionmaker, "SELECT count(*) FROM pgqueuer")
            return bool(jobs == 0)

        await wait_for(nothing_waits, what="the account's sync to end: its push is parked")

        await sandbox.put("/_sandbox/faults", json={"fail_next": 0})
        replay = await api.post(f"/v1/webhook-events/{event['id']}/replay")
        assert replay.status_code == 202
        assert replay.json()["state"] == "pending"
        again = await api.post(f"/v1/webhook-events/{event['id']}/replay")
        assert again.status_code == 409
        assert again.json()["code"] == "webhook_event_not_replayable"
        await _settled(sessionmaker)
        await _stored_order(api, account["id"], created["order"]["order_id"])
        assert (await api.get(f"/v1/webhook-events/{event['id']}")).json()["state"] == "processed"

    async def test_unroutable_push_replays_once_the_account_exists(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        seller = (
            await sandbox.post("/_sandbox/sellers", json={"seller_id": SELLER, "country": "vn"})
        ).json()
        created = await _new_order(sandbox, items=1)
        (event,) = (await api.get("/v1/webhook-events", params={"state": "unroutable"})).json()[
            "items"
        ]
        refused = await api.post(f"/v1/webhook-events/{event['id']}/replay")
        assert refused.status_code == 409
        assert refused.json()["code"] == "webhook_event_unroutable"
        account = (
            await api.post(
                "/v1/accounts",
                json={
                    "marketplace": "lazada",
                    "seller_id": SELLER,
                    "country": "vn",
                    "access_token": seller["access_token"],
                    "refresh_token": seller["refresh_token"],
                },
            )
        ).json()
        assert (await api.post(f"/v1/webhook-events/{event['id']}/replay")).status_code == 202
        await worker.start()
        await _settled(sessionmaker)
        await _stored_order(api, account["id"], created["order"]["order_id"])


class TestCrash:
    async def test_worker_killed_mid_job_leaves_nothing_half_written(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sandbox_server: BackgroundServer,
        worker: WorkerHarness,
        database_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(sandbox, items=3)
        # The sandbox holds every answer long enough for us to kill the worker mid-fetch.
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 60_000})
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "LAZADA_APP_KEY": APP_KEY,
            "LAZADA_APP_SECRET": APP_SECRET,
            "LAZADA_API_BASE": f"{sandbox_server.url}/rest",
            "LAZADA_AUTH_BASE": f"{sandbox_server.url}/rest",
            "ORDERSYNC_API_TOKENS": API_TOKEN,
            "ORDERSYNC_ENCRYPTION_KEYS": ENCRYPTION_KEY,
            "ORDERSYNC_JOB_HEARTBEAT_TIMEOUT": "2",
            "ORDERSYNC_HTTP_TIMEOUT": "120",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "worker",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:

            async def fetching() -> bool:
                calls = (await sandbox.get("/_sandbox/calls")).json()
                return bool(calls["total"] >= 1)

            await wait_for(fetching, within=30, what="the subprocess worker to call Lazada")
            assert await scalar(sessionmaker, "SELECT status::text FROM pgqueuer") == "picked"
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        assert await scalar(sessionmaker, "SELECT count(*) FROM orders") == 0

        await sandbox.put("/_sandbox/faults", json={"latency_ms": 0})
        await worker.start()  # its heartbeat timeout is 2 s: it takes over the orphaned job
        await _settled(sessionmaker)
        order = await _stored_order(api, account["id"], created["order"]["order_id"])
        assert len(order["items"]) == 3
        assert all(len(item["history"]) == 1 for item in order["items"])
        assert await scalar(sessionmaker, "SELECT count(*) FROM order_items") == 3


class TestTokenAlertAndSweeper:
    async def test_token_alert_push_refreshes_the_token(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        connected = await connect_seller(api, sandbox)
        body = {
            "seller_id": "null",
            "message_type": 8,
            "data": {"app_key": APP_KEY, "auth_expiry_time": 1893456000, "seller_id": SELLER},
            "timestamp": 1893283200,
            "site": "lazada_vn",
        }
        sent = (await sandbox.post("/_sandbox/pushes", json={"body": body})).json()
        assert [p["status_code"] for p in sent["pushes"]] == [200]
        await worker.start()
        await _settled(sessionmaker)
        assert (await sandbox_calls(sandbox))["/auth/token/refresh"] == 1
        stored = await scalar(sessionmaker, "SELECT access_token FROM marketplace_accounts")
        assert stored != connected["seller"]["access_token"]
        (event,) = (await api.get("/v1/webhook-events")).json()["items"]
        assert event["state"] == "processed"

    async def test_sweeper_requeues_pushes_whose_job_was_lost(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        created = await _new_order(sandbox, items=2)
        # Lose the queued job, as a restored backup or a manual cleanup would, and age the pushes.
        async with sessionmaker() as session, session.begin():
            from sqlalchemy import text

            await session.execute(text("DELETE FROM pgqueuer"))
            await session.execute(
                text("UPDATE external_events SET received_at = now() - make_interval(secs => :s)"),
                {"s": settings.sweep_age + 1},
            )
        await worker.start()
        await _settled(sessionmaker)
        await _stored_order(api, account["id"], created["order"]["order_id"])
