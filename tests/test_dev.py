"""``python3 dev.py`` as README tells a newcomer to use it: every command, stopped by a signal
with nothing left behind, and the demo, which connects its sellers by itself at every start."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from app.config import DEMO_API_TOKEN
from tests.fixtures.processes import (
    ROOT,
    Process,
    clean_environment,
    free_port,
    port_is_free,
    spawn,
    wait_until_answering,
)
from tests.fixtures.services import wait_for
from tests.test_embedded_postgres import postmaster, running

DEV = [sys.executable, str(ROOT / "dev.py")]


async def _all_gone(processes: list[psutil.Process], ports: list[int]) -> None:
    async def gone() -> bool:
        return not any(running(p.pid) for p in processes) and all(map(port_is_free, ports))

    await wait_for(gone, within=10, what="every process to exit and every port to be free")


class TestCommands:
    def test_any_ordersync_command_passes_through(self, tmp_path: Path, database_url: str) -> None:
        env = clean_environment(DATABASE_URL=database_url)
        migrate = subprocess.run(
            [*DEV, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert migrate.returncode == 0, migrate.stderr
        assert "Database schema is up to date." in migrate.stdout
        unknown = subprocess.run(
            [*DEV, "no-such-command"], env=env, capture_output=True, text=True, timeout=120
        )
        assert unknown.returncode == 2
        assert "No such command 'no-such-command'" in unknown.stderr

    async def test_sigterm_to_dev_py_stops_what_it_started(
        self, tmp_path: Path, database_url: str
    ) -> None:
        port = free_port()
        env = clean_environment(
            DATABASE_URL=database_url,
            LAZADA_APP_KEY="123456",
            LAZADA_APP_SECRET="dev-py-secret-0123456789",
            ORDERSYNC_ENCRYPTION_KEYS="2ex8S47ZShiSbrCMsuJ0jwdm8bnUm4PKc2w7fyz96N4=",
            ORDERSYNC_DATA_DIR=str(tmp_path / "data"),
        )
        args = [*DEV, "serve", "--port", str(port), "--no-worker", "--no-migrate"]
        with spawn(args, env=env, cwd=tmp_path, log=tmp_path / "serve.log") as serve:
            await wait_until_answering(serve, f"http://127.0.0.1:{port}/healthz")
            family = serve.family()
            assert await serve.stop(signal.SIGTERM) == 0, serve.output()
        await _all_gone(family, [port])


@dataclass
class Demo:
    process: Process
    api: httpx.AsyncClient
    lazada: httpx.AsyncClient
    shoplazza: httpx.AsyncClient
    newegg: httpx.AsyncClient
    ports: list[int]

    async def accounts(self) -> dict[str, dict[str, Any]]:
        listed = (await self.api.get("/v1/accounts")).json()
        return {account["marketplace"]: account for account in listed}

    async def lazada_order(self, account_id: str, skus: list[str]) -> dict[str, Any]:
        """An order at the Lazada sandbox (which pushes it), once ordersync has synced it."""
        created = await self.lazada.post(
            "/_sandbox/orders", json={"seller_id": "100", "items": [{"sku": s} for s in skus]}
        )
        assert created.status_code == 200, created.text
        order_id = created.json()["order"]["order_id"]

        async def synced() -> dict[str, Any]:  # empty: not yet
            response = await self.api.get(f"/v1/accounts/{account_id}/orders/{order_id}")
            return dict(response.json()) if response.status_code == 200 else {}

        return await wait_for(synced, within=20, what=f"order {order_id} to be synced")

    async def cancel(self, account_id: str, order_id: Any, **body: Any) -> dict[str, Any]:
        response = await self.api.post(
            f"/v1/accounts/{account_id}/orders/{order_id}/cancellations",
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201, response.text
        cancelled: dict[str, Any] = response.json()
        assert cancelled["status"] == "succeeded"
        return cancelled


@asynccontextmanager
async def demo(tmp_path: Path, data_dir: Path, log: str) -> AsyncIterator[Demo]:
    ports = [free_port() for _ in range(4)]
    options = ("--port", "--lazada-port", "--shoplazza-port", "--newegg-port")
    args = [*DEV, "demo", "--data-dir", str(data_dir)]
    for option, port in zip(options, ports, strict=True):
        args += [option, str(port)]
    with spawn(args, env=clean_environment(), cwd=tmp_path, log=tmp_path / log, session=True) as p:
        # The port opens once the sellers are connected: answering means ready.
        await wait_until_answering(p, f"http://127.0.0.1:{ports[0]}/readyz", within=90)
        headers = {"Authorization": f"Bearer {DEMO_API_TOKEN}"}
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        async with (
            httpx.AsyncClient(base_url=urls[0], headers=headers, timeout=30) as api,
            httpx.AsyncClient(base_url=urls[1], timeout=30) as lazada,
            httpx.AsyncClient(base_url=urls[2], timeout=30) as shoplazza,
            httpx.AsyncClient(base_url=urls[3], timeout=30) as newegg,
        ):
            yield Demo(p, api, lazada, shoplazza, newegg, ports)


class TestDemo:
    async def test_ready_means_connected_and_a_restart_reconnects(self, tmp_path: Path) -> None:
        data = tmp_path / "demo-data"
        async with demo(tmp_path, data, "first.log") as first:
            accounts = await first.accounts()
            assert sorted(accounts) == ["lazada", "newegg", "shoplazza"]
            assert not any(account["needs_reauth"] for account in accounts.values())
            lazada = accounts["lazada"]["id"]

            order = await first.lazada_order(lazada, ["A", "B"])
            first_item, _ = (item["order_item_id"] for item in order["items"])
            options = await first.api.get(
                f"/v1/accounts/{lazada}/orders/{order['order_id']}/cancel-options"
            )
            assert options.status_code == 200, options.text
            assert options.json()["cancellable"] is True
            cancelled = await first.cancel(
                lazada, order["order_id"], item_ids=[first_item], reason="out_of_stock"
            )
            assert cancelled["cancelled_item_ids"] == [first_item]

            # The seller's refresh token is refused: ordersync marks the account needs_reauth.
            faults = {"expire_access_tokens": True, "refuse_refresh": True}
            assert (await first.lazada.put("/_sandbox/faults", json=faults)).status_code == 200
            await first.lazada.post(
                "/_sandbox/orders", json={"seller_id": "100", "items": [{"sku": "C"}]}
            )

            async def reauth_needed() -> bool:
                return bool((await first.accounts())["lazada"]["needs_reauth"])

            await wait_for(reauth_needed, within=20, what="the account to need re-authorisation")

            family, server = first.process.family(), postmaster(data)
            assert server is not None
            assert await first.process.stop(signal.SIGTERM) == 0, first.process.output()
        await _all_gone([*family, psutil.Process(server)], first.ports)

        # The restarted sandboxes know no seller; ordersync still has the three accounts.
        async with demo(tmp_path, data, "second.log") as second:
            again = await second.accounts()
            assert {m: a["id"] for m, a in again.items()} == {
                m: a["id"] for m, a in accounts.items()
            }
            assert not again["lazada"]["needs_reauth"]
            order = await second.lazada_order(lazada, ["D"])  # synced with the new tokens
            assert [item["sku"] for item in order["items"]] == ["D"]

            shop = (
                await second.shoplazza.post(
                    "/_sandbox/orders", json={"shop_domain": "demo.myshoplaza.com"}
                )
            ).json()["order"]["id"]
            await second.cancel(again["shoplazza"]["id"], shop, reason="customer_request")
            number = (
                await second.newegg.post("/_sandbox/orders", json={"seller_id": "DEMO1"})
            ).json()["order_number"]
            await second.cancel(again["newegg"]["id"], number, reason="out_of_stock")

            family = second.process.family()
            assert await second.process.interrupt() == 0  # Ctrl-C
            output = second.process.output()
        await _all_gone(family, second.ports)
        assert postmaster(data) is None
        # (Before it, the worker may report the paused syncs of orders the sandbox forgot.)
        _, stopping, after = output.partition("Stopping the demo...")
        assert stopping
        assert after.strip() == "", "a quiet stop: no CancelledError, no traceback"
