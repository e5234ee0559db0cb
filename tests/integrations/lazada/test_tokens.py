"""Token lifecycle over real HTTP and Postgres: refresh ahead of expiry, one refresh for many
callers, and an account whose refresh token is refused: paused, visible, resumed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.integrations.lazada.schedule import schedule_once
from app.integrations.lazada.tokens import refresh_access_token
from app.kit.server import BackgroundServer
from app.worker.context import WorkerContext
from app.worker.runner import sweep_once
from tests.fixtures.services import APP_KEY, WorkerHarness, make_settings, wait_for
from tests.helpers import connect_seller, sandbox_calls, scalar

SELLER = "200549968600"


async def _connect(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    seller_id: str,
    **expiries: datetime,
) -> dict[str, Any]:
    seller = (
        await sandbox.post("/_sandbox/sellers", json={"seller_id": seller_id, "country": "vn"})
    ).json()
    response = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "lazada",
            "seller_id": seller_id,
            "country": "vn",
            "access_token": seller["access_token"],
            "refresh_token": seller["refresh_token"],
            **{name: moment.isoformat() for name, moment in expiries.items()},
        },
    )
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account


async def _account(api: httpx.AsyncClient, account_id: str) -> dict[str, Any]:
    account: dict[str, Any] = (await api.get(f"/v1/accounts/{account_id}")).json()
    return account


async def _events(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get("/v1/webhook-events", params=params)).json()[
        "items"
    ]
    return items


async def _order(sandbox: httpx.AsyncClient, **fields: Any) -> int:
    body = {"seller_id": SELLER, "items": [{"sku": "A"}], **fields}
    created = (await sandbox.post("/_sandbox/orders", json=body)).json()
    order_id: int = created["order"]["order_id"]
    return order_id


class TestRefreshAhead:
    async def test_only_tokens_expiring_within_the_hour_are_refreshed(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient, worker: WorkerHarness
    ) -> None:
        now = datetime.now(UTC)
        soon = await _connect(
            api, sandbox, "100", access_token_expires_at=now + timedelta(minutes=30)
        )
        later = await _connect(
            api, sandbox, "101", access_token_expires_at=now + timedelta(hours=3)
        )
        await worker.start()

        async def refreshed() -> bool:
            expires = (await _account(api, soon["id"]))["access_token_expires_at"]
            return datetime.fromisoformat(expires) > now + timedelta(days=6)  # the sandbox's 7 d

        await wait_for(refreshed, what="the expiring token to be refreshed")
        assert await sandbox_calls(sandbox) == {"/auth/token/refresh": 1}
        untouched = await _account(api, later["id"])
        assert untouched["access_token_expires_at"] == later["access_token_expires_at"]

    async def test_concurrent_refreshes_make_one_call(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient, ctx: WorkerContext
    ) -> None:
        connected = await connect_seller(api, sandbox)
        account_id = uuid.UUID(connected["account"]["id"])
        stale = connected["seller"]["access_token"]
        # Slow answers, so that the second caller arrives while the first one's call is out.
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 300})
        first, second = await asyncio.gather(
            refresh_access_token(ctx, account_id, stale_token=stale),
            refresh_access_token(ctx, account_id, stale_token=stale),
        )
        assert first.access_token == second.access_token != stale
        assert first.refresh_token == second.refresh_token
        assert await sandbox_calls(sandbox) == {"/auth/token/refresh": 1}

    async def test_jobs_rejected_together_share_one_refresh(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        orders = [await _order(sandbox), await _order(sandbox)]
        await sandbox.put(
            "/_sandbox/faults", json={"expire_access_tokens": True, "latency_ms": 200}
        )
        await worker.start()

        async def settled() -> bool:
            return not await _events(api, state="pending")

        await wait_for(settled, what="both syncs to finish")
        for order_id in orders:
            stored = await api.get(f"/v1/accounts/{account['id']}/orders/{order_id}")
            assert stored.status_code == 200
        assert (await sandbox_calls(sandbox))["/auth/token/refresh"] == 1

    async def test_an_expired_refresh_token_is_not_even_tried(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient, worker: WorkerHarness
    ) -> None:
        now = datetime.now(UTC)
        account = await _connect(
            api,
            sandbox,
            SELLER,
            access_token_expires_at=now + timedelta(minutes=10),
            refresh_token_expires_at=now - timedelta(minutes=1),
        )
        await worker.start()

        async def marked() -> list[dict[str, Any]]:
            listed: list[dict[str, Any]] = (
                await api.get("/v1/accounts", params={"needs_reauth": "true"})
            ).json()
            return listed

        (listed,) = await wait_for(marked, what="the account to need re-authorisation")
        assert listed["id"] == account["id"]
        assert "expired" in listed["reauth_reason"]
        assert await sandbox_calls(sandbox) == {}


class TestNeedsReauth:
    async def test_refused_refresh_pauses_the_account_and_new_tokens_resume_it(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sandbox_server: BackgroundServer,
        worker: WorkerHarness,
        ctx: WorkerContext,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        first = await _order(sandbox)
        await sandbox.put(
            "/_sandbox/faults", json={"expire_access_tokens": True, "refuse_refresh": True}
        )
        await worker.start()

        async def paused() -> list[dict[str, Any]]:
            pending = await _events(api, state="pending")
            done = pending and all("paused" in (e["last_error"] or "") for e in pending)
            return pending if done else []

        (event,) = await wait_for(paused, what="the push to be paused")
        assert event["attempts"] == 0  # no retry spent
        listed = (await api.get("/v1/accounts", params={"needs_reauth": "true"})).json()
        assert [a["id"] for a in listed] == [account["id"]]
        assert "refused" in listed[0]["reauth_reason"]

        async def job_done() -> bool:
            return bool(await scalar(sessionmaker, "SELECT count(*) FROM pgqueuer") == 0)

        await wait_for(job_done, what="the job to end (not retried, not parked as failed)")
        calls = await sandbox_calls(sandbox)
        assert calls == {"/order/get": 1, "/auth/token/refresh": 1}

        # While paused: a new order's push, and a token alert, call nothing at Lazada.
        second = await _order(sandbox)
        alert = {
            "seller_id": "null",
            "message_type": 8,
            "data": {"app_key": APP_KEY, "auth_expiry_time": 1893456000, "seller_id": SELLER},
            "timestamp": 1893283200,
            "site": "lazada_vn",
        }
        await sandbox.post("/_sandbox/pushes", json={"body": alert})

        async def all_paused() -> bool:
            pending = await _events(api, state="pending")
            return len(pending) == 3 and all("paused" in (e["last_error"] or "") for e in pending)

        await wait_for(all_paused, what="the new pushes to be paused too")
        await wait_for(job_done, what="their jobs to end")
        assert await sandbox_calls(sandbox) == calls
        assert not await _events(api, state="failed")

        # The sweeper and the schedule leave the account alone, however stale its pushes.
        async with sessionmaker() as session, session.begin():
            await session.execute(
                text("UPDATE external_events SET received_at = now() - interval '1 hour'")
            )
            await session.execute(
                text(
                    "UPDATE marketplace_accounts SET "
                    "access_token_expires_at = now() + interval '1 minute', "
                    "created_at = now() - interval '1 day'"
                )
            )
        assert await sweep_once(ctx) == 0
        eager = WorkerContext(
            make_settings(sandbox_server.url, reconcile_interval=1.0), sessionmaker, ctx.http
        )
        scheduled = await schedule_once(eager)
        assert (scheduled.reconciles, scheduled.refreshes) == (0, 0)

        # A backfill asked for meanwhile waits as well.
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        backfill = await api.post(f"/v1/accounts/{account['id']}/backfill", json={"since": since})
        assert backfill.status_code == 202
        assert await scalar(sessionmaker, "SELECT count(*) FROM pgqueuer") == 0

        # The seller authorises again; we store the new tokens.
        await sandbox.put("/_sandbox/faults", json={"refuse_refresh": False})
        fresh = (
            await sandbox.post("/_sandbox/sellers", json={"seller_id": SELLER, "country": "vn"})
        ).json()
        expires = datetime.now(UTC) + timedelta(days=7)
        response = await api.put(
            f"/v1/accounts/{account['id']}/tokens",
            json={
                "access_token": fresh["access_token"],
                "refresh_token": fresh["refresh_token"],
                "access_token_expires_at": expires.isoformat(),
            },
        )
        assert response.status_code == 200, response.text
        resumed = response.json()
        assert (resumed["needs_reauth"], resumed["reauth_reason"]) == (False, None)
        assert "access_token" not in resumed

        async def caught_up() -> bool:
            if await _events(api, state="pending"):
                return False
            runs = (await api.get(f"/v1/accounts/{account['id']}/sync-runs")).json()
            return bool(runs) and bool(runs[0]["status"] == "succeeded")

        await wait_for(caught_up, what="the paused work to run")
        for order_id in (first, second):
            stored = await api.get(f"/v1/accounts/{account['id']}/orders/{order_id}")
            assert stored.status_code == 200
        processed = await _events(api, state="processed")
        assert len(processed) == 3  # the token alert is answered by the new tokens
        assert (await sandbox_calls(sandbox))["/auth/token/refresh"] == 1  # none after

    async def test_new_tokens_for_unknown_or_other_accounts(self, api: httpx.AsyncClient) -> None:
        body = {"access_token": "a", "refresh_token": "r"}
        missing = await api.put(f"/v1/accounts/{uuid.uuid4()}/tokens", json=body)
        assert missing.status_code == 404
        shop = await api.post(
            "/v1/accounts",
            json={
                "marketplace": "shoplazza",
                "shop_domain": "acme.myshoplaza.com",
                "access_token": "shop-token",
            },
        )
        refused = await api.put(f"/v1/accounts/{shop.json()['id']}/tokens", json=body)
        assert refused.status_code == 409
        assert refused.json()["code"] == "tokens_not_supported"
