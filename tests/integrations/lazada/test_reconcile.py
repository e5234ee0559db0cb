"""Reconcile and backfill: GetOrders + GetMultipleOrderItems against the sandbox over HTTP,
stored in the real Postgres; the worker's schedule, the API and the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import AliasChoices, SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import transaction
from app.integrations.lazada import reconcile
from app.kit.server import BackgroundServer
from app.models import SyncRun
from app.sync_runs.service import sync_run as sync_run_service
from app.worker.context import WorkerContext
from tests.fixtures.services import WorkerHarness, make_settings, wait_for
from tests.helpers import connect_seller, sandbox_calls, scalar

SELLER = "200549968600"
REPO_ROOT = Path(__file__).resolve().parents[3]
COMMAND = (sys.executable, "-c", "from app.cli import main; main()")


async def _seed(sandbox: httpx.AsyncClient, count: int, **fields: Any) -> list[int]:
    """``count`` orders, never pushed, created (and updated) over the last hour."""
    now = datetime.now(UTC)
    body = {
        "seller_id": SELLER,
        "count": count,
        "created_at_from": (now - timedelta(hours=1)).isoformat(),
        "created_at_to": (now - timedelta(minutes=1)).isoformat(),
        **fields,
    }
    response = await sandbox.post("/_sandbox/orders/bulk", json=body)
    assert response.status_code == 200, response.text
    ids: list[int] = response.json()["order_ids"]
    return ids


async def _backfill(
    ctx: WorkerContext,
    account_id: str,
    *,
    since: datetime | None = None,
    limits: reconcile.Limits = reconcile.DEFAULT_LIMITS,
) -> SyncRun:
    since = since or datetime.now(UTC) - timedelta(days=1)
    async with transaction(ctx.sessionmaker) as session:
        run = await sync_run_service.request_backfill(
            session, uuid.UUID(account_id), since, queue=False
        )
    finished = await reconcile.backfill(ctx, run.id, limits=limits)
    assert finished is not None
    return finished


async def _stored_statuses(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> dict[str, dict[str, str]]:
    async with sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT o.external_order_id, i.external_item_id, i.status FROM orders o "
                "JOIN order_items i ON i.order_id = o.id"
            )
        )
        stored: dict[str, dict[str, str]] = {}
        for order_id, item_id, status in rows:
            stored.setdefault(order_id, {})[item_id] = status
        return stored


async def _truth(sandbox: httpx.AsyncClient, order_id: int | str) -> dict[str, str]:
    view = (await sandbox.get(f"/_sandbox/orders/{order_id}")).json()
    return {str(item["order_item_id"]): item["status"] for item in view["items"]}


async def _runs(api: httpx.AsyncClient, account_id: str) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/accounts/{account_id}/sync-runs")
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()
    return runs


class TestReconcile:
    async def test_repairs_orders_whose_pushes_never_arrived(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sandbox_server: BackgroundServer,
        database_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        orders = []
        for status in ("pending", "packed", "unpaid"):
            created = await sandbox.post(
                "/_sandbox/orders",
                json={
                    "seller_id": SELLER,
                    "items": [{"sku": "A"}, {"sku": "B"}],
                    "status": status,
                    "push": False,
                },
            )
            orders.append(created.json()["order"]["order_id"])
        # The worker's own schedule runs the reconcile: due every second in this test.
        worker = WorkerHarness(
            make_settings(sandbox_server.url, reconcile_interval=1.0), database_url, sessionmaker
        )
        await worker.start()
        try:

            async def stored_as_in_lazada() -> bool:
                stored = await _stored_statuses(sessionmaker)
                truth = {str(o): await _truth(sandbox, o) for o in orders}
                return all(stored.get(o) == statuses for o, statuses in truth.items())

            await wait_for(stored_as_in_lazada, what="the reconcile to store the three orders")

            async def run_finished() -> bool:
                # The pages commit before the run's own row is closed, in a later transaction.
                runs = await _runs(api, account["id"])
                return any(r["orders_changed"] and r["status"] != "running" for r in runs)

            await wait_for(run_finished, what="the reconcile run to be closed")
            (first,) = [r for r in await _runs(api, account["id"]) if r["orders_changed"]]
            assert first["kind"] == "reconcile"
            assert first["status"] == "succeeded"
            assert (first["orders_seen"], first["orders_changed"], first["calls_made"]) == (3, 3, 2)
            assert first["window_end"] is not None
            history = await scalar(
                sessionmaker,
                "SELECT count(*) FROM order_item_status_changes WHERE source = 'lazada.reconcile'",
            )
            assert history == 6

            # Statuses move on at Lazada, and again no push arrives.
            for order_id in orders[:2]:
                await sandbox.post(
                    f"/_sandbox/orders/{order_id}/status",
                    json={"status": "ready_to_ship", "push": False},
                )
            await wait_for(stored_as_in_lazada, what="the next reconcile to follow the changes")

            async def settled_runs() -> list[dict[str, Any]]:
                runs = await _runs(api, account["id"])
                done = [r for r in runs if r["status"] == "succeeded"]
                return done if sum(r["orders_changed"] for r in done) == 5 else []

            runs = await wait_for(settled_runs, what="the runs to record both changes")
        finally:
            await worker.stop()
        for run in runs:
            assert run["orders_seen"] == 3  # the overlap re-reads everything each second
            # A run that changed nothing listed once and fetched no items: they were current.
            if run["orders_changed"] == 0:
                assert run["calls_made"] == 1
        latest = max(runs, key=lambda r: r["started_at"])
        through = await scalar(sessionmaker, "SELECT reconciled_through FROM marketplace_accounts")
        window_end = datetime.fromisoformat(latest["window_end"])
        assert window_end - through == timedelta(seconds=600)  # the overlap re-reads late ones
        calls = await sandbox_calls(sandbox)
        assert set(calls) == {"/orders/get", "/orders/items/get"}
        assert calls["/orders/get"] == len(runs)

    async def test_items_come_fifty_orders_a_call(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        ctx: WorkerContext,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        await _seed(sandbox, 120, items_per_order=2)
        run = await _backfill(ctx, account["id"])
        assert run.status == "succeeded", run.error
        # Page one: 100 orders (2 item calls of 50); page two starts on the 100th again: 20 new.
        assert await sandbox_calls(sandbox) == {"/orders/get": 2, "/orders/items/get": 3}
        assert (run.orders_seen, run.orders_changed, run.calls_made) == (120, 120, 5)
        assert await scalar(sessionmaker, "SELECT count(*) FROM order_items") == 240

    async def test_the_window_rolls_forward_past_the_offset_cap(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        ctx: WorkerContext,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        ids = await _seed(sandbox, 260)
        # The sandbox refuses any offset above 60 (E014), as Lazada does above 4500.
        await sandbox.put("/_sandbox/faults", json={"max_offset": 60})
        limits = reconcile.Limits(page_size=25, max_offset=60, items_batch=50)
        run = await _backfill(ctx, account["id"], limits=limits)
        assert run.status == "succeeded", run.error
        assert run.orders_seen == 260
        stored = await _stored_statuses(sessionmaker)
        assert set(stored) == {str(i) for i in ids}
        calls = (await sandbox.get("/_sandbox/calls")).json()
        assert calls["by_api"] == calls["ok_by_api"]  # no offset was refused
        # A window reads pages at offsets 0, 24 and 48 (25 + 24 + 24 orders), then rolls to the
        # last order's updated_at; each later window re-reads that one order: 72 new. Three
        # windows take 217 orders; the last 43 come in two pages (24 new, then 19).
        assert calls["by_api"]["/orders/get"] == 3 + 3 + 3 + 2
        assert run.calls_made == calls["total"]

    async def test_more_orders_in_one_second_than_the_cap_fails_the_run(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        ctx: WorkerContext,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        moment = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        await _seed(sandbox, 120, created_at_from=moment, created_at_to=moment)
        await sandbox.put("/_sandbox/faults", json={"max_offset": 60})
        limits = reconcile.Limits(page_size=25, max_offset=60, items_batch=50)
        run = await _backfill(ctx, account["id"], limits=limits)
        assert run.status == "failed"
        assert run.error is not None
        assert "WindowStuck" in run.error
        assert "cannot page past" in run.error
        assert run.calls_made > 0
        through = await scalar(sessionmaker, "SELECT reconciled_through FROM marketplace_accounts")
        assert through is None

    async def test_an_order_updated_mid_pull_does_not_make_it_skip_one(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        ctx: WorkerContext,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        ids = await _seed(sandbox, 150)
        await sandbox.put("/_sandbox/faults", json={"latency_ms": 300})
        pull = asyncio.create_task(_backfill(ctx, account["id"]))

        async def first_page_read() -> bool:
            return (await sandbox_calls(sandbox)).get("/orders/items/get", 0) >= 1

        await wait_for(first_page_read, what="the first page to be read")
        # The oldest order changes: it leaves the window's place for its end (past the run's
        # update_before), and every later order moves up one place.
        moved = await sandbox.post(
            f"/_sandbox/orders/{ids[0]}/status", json={"status": "packed", "push": False}
        )
        assert moved.status_code == 200
        run = await pull
        assert run.status == "succeeded", run.error
        assert set(await _stored_statuses(sessionmaker)) == {str(i) for i in ids}
        # Page one, page two (dropped: its first order was not the last one taken), and the
        # window restarted at that order.
        assert (await sandbox_calls(sandbox))["/orders/get"] == 3

    async def test_a_failing_call_is_retried_and_counted(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        ctx: WorkerContext,
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        await _seed(sandbox, 10)
        await sandbox.put("/_sandbox/faults", json={"fail_next": 2})
        run = await _backfill(ctx, account["id"])
        assert run.status == "succeeded", run.error
        assert run.calls_made == 4  # two 503s, the list, the items
        await sandbox.put("/_sandbox/faults", json={"fail_next": 100})
        failed = await _backfill(ctx, account["id"])
        assert failed.status == "failed"
        assert failed.error is not None
        assert "MarketplaceUnavailable" in failed.error
        assert failed.calls_made == ctx.settings.sync_max_attempts


class TestBackfill:
    async def test_over_the_api(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        worker: WorkerHarness,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        ids = await _seed(sandbox, 130, items_per_order=1)
        since = (datetime.now(UTC) - timedelta(days=2)).isoformat()
        response = await api.post(f"/v1/accounts/{account['id']}/backfill", json={"since": since})
        assert response.status_code == 202, response.text
        queued = response.json()
        assert (queued["kind"], queued["status"]) == ("backfill", "queued")
        assert datetime.fromisoformat(queued["window_start"]) == datetime.fromisoformat(since)
        await worker.start()

        async def finished() -> dict[str, Any] | None:
            runs = await _runs(api, account["id"])
            run = next(r for r in runs if r["id"] == queued["id"])
            return run if run["status"] in ("succeeded", "failed") else None

        run = await wait_for(finished, what="the backfill to finish")
        assert run is not None
        assert run["status"] == "succeeded", run["error"]
        assert (run["orders_seen"], run["orders_changed"]) == (130, 130)
        assert run["calls_made"] == sum((await sandbox_calls(sandbox)).values()) == 5
        assert set(await _stored_statuses(sessionmaker)) == {str(i) for i in ids}
        listed = (await api.get(f"/v1/accounts/{account['id']}/sync-runs?kind=backfill")).json()
        assert [r["id"] for r in listed] == [queued["id"]]

    async def test_refusals(self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        response = await api.post(f"/v1/accounts/{account['id']}/backfill", json={"since": future})
        assert response.status_code == 422
        unknown = f"/v1/accounts/{uuid.uuid4()}"
        response = await api.post(f"{unknown}/backfill", json={"since": "2026-01-01T00:00:00Z"})
        assert response.status_code == 404
        assert response.json()["code"] == "account_not_found"
        assert (await api.get(f"{unknown}/sync-runs")).status_code == 404
        shop = await api.post(
            "/v1/accounts",
            json={
                "marketplace": "shoplazza",
                "shop_domain": "acme.myshoplaza.com",
                "access_token": "shop-token",
            },
        )
        assert shop.status_code == 201, shop.text
        response = await api.post(
            f"/v1/accounts/{shop.json()['id']}/backfill", json={"since": "2026-01-01T00:00:00Z"}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "backfill_not_supported"

    async def test_from_the_command_line(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        settings: Settings,
        database_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account = (await connect_seller(api, sandbox))["account"]
        ids = await _seed(sandbox, 130)
        since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
        env = _environment(settings, database_url)
        code, output, errors = await _cli(
            env, "backfill", "--account", account["id"], "--since", since
        )
        assert code == 0, errors
        assert "orders so far" in output
        assert "succeeded" in output
        assert "130 orders seen, 130 new or changed, 5 Lazada calls" in output
        assert set(await _stored_statuses(sessionmaker)) == {str(i) for i in ids}
        (run,) = await _runs(api, account["id"])
        assert (run["kind"], run["status"], run["calls_made"]) == ("backfill", "succeeded", 5)

        code, _, errors = await _cli(
            env, "backfill", "--account", str(uuid.uuid4()), "--since", since
        )
        assert code == 2
        assert "does not exist" in errors


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def _environment(settings: Settings, database_url: str) -> dict[str, str]:
    """The test settings as the environment variables a subprocess reads them from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAZADA_", "ORDERSYNC_"))}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        alias = field.validation_alias
        variable = alias.choices[0] if isinstance(alias, AliasChoices) else name.upper()
        if isinstance(value, list):
            value = ",".join(v.get_secret_value() if isinstance(v, SecretStr) else v for v in value)
        elif isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[str(variable)] = str(value).lower() if isinstance(value, bool) else str(value)
    env["DATABASE_URL"] = database_url
    return env
