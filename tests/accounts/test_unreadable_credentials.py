"""Accounts stored under one encryption key, served by a process that has only another: every
answer is a 424 ``credentials_unreadable`` naming the account and the fix, never a 500; the
worker pauses the account instead of retrying; re-connecting, or the key put back, resumes it.

The service runs as ``ordersync serve`` in its own process (the key is process-wide), as a user
would run it after a demo with another key.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.accounts.credentials import UNREADABLE_REASON
from app.kit.server import BackgroundServer
from tests.fixtures.database import ENCRYPTION_KEY
from tests.fixtures.services import API_TOKEN, APP_KEY, APP_SECRET, wait_for
from tests.helpers import connect_seller, sandbox_calls

SELLER = "200549968600"
OTHER_KEY = "lFB86EoZWkz2RYbRzYZjDG0kDmhSRcPMdwbL4RlFC3Q="


@dataclass
class Service:
    client: httpx.AsyncClient
    url: str
    log_path: Path

    def log(self) -> list[dict[str, Any]]:
        """The process's log lines (JSON), as far as written."""
        lines = self.log_path.read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.startswith(b"{")]

    def raw_log(self) -> str:
        return self.log_path.read_text()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(
    *,
    keys: str,
    database_url: str,
    tmp_path: Path,
    sandbox_server: BackgroundServer,
    shoplazza_server: BackgroundServer,
    newegg_server: BackgroundServer,
    name: str,
) -> AsyncIterator[Service]:
    """``ordersync serve`` (API and worker) with only ``keys``, until the block ends."""
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAZADA_", "ORDERSYNC_"))}
    env = {
        **clean,
        "DATABASE_URL": database_url,
        "LAZADA_APP_KEY": APP_KEY,
        "LAZADA_APP_SECRET": APP_SECRET,
        "LAZADA_API_BASE": f"{sandbox_server.url}/rest",
        "LAZADA_AUTH_BASE": f"{sandbox_server.url}/rest",
        "SHOPLAZZA_API_BASE": shoplazza_server.url,
        "NEWEGG_API_BASE": newegg_server.url,
        "ORDERSYNC_API_TOKENS": API_TOKEN,
        "ORDERSYNC_ENCRYPTION_KEYS": keys,
        "ORDERSYNC_DATA_DIR": str(tmp_path / f"data-{name}"),
        "ORDERSYNC_LOG_JSON": "true",
        "ORDERSYNC_SYNC_DELAY": "0.1",
        "ORDERSYNC_SWEEP_INTERVAL": "0.3",
        "ORDERSYNC_SWEEP_AGE": "1",
        "ORDERSYNC_RETRY_BASE_DELAY": "0.05",
        "ORDERSYNC_RETRY_MAX_DELAY": "0.3",
        "ORDERSYNC_CANCEL_POLL_INTERVAL": "0.2",
    }
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from app.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--no-migrate",
            env=env,
            cwd=tmp_path,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

            async def up() -> bool:
                assert process.returncode is None, log_path.read_text()
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(up, within=60, what="ordersync serve to listen")
            yield Service(client, url, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.fixture
def service_args(
    database_url: str,
    tmp_path: Path,
    sandbox_server: BackgroundServer,
    shoplazza_server: BackgroundServer,
    newegg_server: BackgroundServer,
) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "tmp_path": tmp_path,
        "sandbox_server": sandbox_server,
        "shoplazza_server": shoplazza_server,
        "newegg_server": newegg_server,
    }


async def _other_accounts(api: httpx.AsyncClient) -> tuple[str, str]:
    shoplazza = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "shoplazza",
            "shop_domain": "acme.myshoplaza.com",
            "access_token": "shoplazza-token-KEY-A",
        },
    )
    newegg = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "newegg",
            "seller_id": "A006",
            "site": "us",
            "api_key": "newegg-api-key-KEY-A",
            "secret_key": "newegg-secret-key-KEY-A",
        },
    )
    assert shoplazza.status_code == newegg.status_code == 201
    return shoplazza.json()["id"], newegg.json()["id"]


def _unreadable(response: httpx.Response, account_id: str) -> dict[str, Any]:
    assert response.status_code == 424, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["code"] == "credentials_unreadable"
    assert problem["account_id"] == account_id
    assert account_id in problem["detail"]
    assert "ORDERSYNC_ENCRYPTION_KEYS" in problem["detail"]
    return problem


async def _pending_events(service: Service) -> list[dict[str, Any]]:
    page = (await service.client.get("/v1/webhook-events", params={"state": "pending"})).json()
    items: list[dict[str, Any]] = page["items"]
    return items


async def _flagged(service: Service, account_id: str) -> bool:
    account = (await service.client.get(f"/v1/accounts/{account_id}")).json()
    return bool(account["needs_reauth"])


async def _synced(service: Service, account_id: str, order_id: Any) -> bool:
    found = await service.client.get(f"/v1/accounts/{account_id}/orders/{order_id}")
    return found.status_code == 200


class TestAnotherKey:
    async def test_api_answers_name_the_account_and_the_fix_and_reconnecting_resumes(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        service_args: dict[str, Any],
    ) -> None:
        connected = await connect_seller(api, sandbox, seller_id=SELLER)
        lazada, seller = connected["account"]["id"], connected["seller"]
        shoplazza, newegg = await _other_accounts(api)
        created = (
            await sandbox.post(
                "/_sandbox/orders",
                json={"seller_id": SELLER, "items": [{"sku": "A"}], "push": False},
            )
        ).json()
        order_id = created["order"]["order_id"]

        async with serve(keys=OTHER_KEY, name="other-key", **service_args) as service:
            client = service.client
            # What needs no credentials still works.
            listed = await client.get("/v1/accounts")
            assert listed.status_code == 200
            assert {a["id"] for a in listed.json()} == {lazada, shoplazza, newegg}
            assert (await client.get(f"/v1/accounts/{lazada}")).status_code == 200
            history = f"/v1/accounts/{lazada}/orders/{order_id}/cancellations"
            assert (await client.get(history)).status_code == 200

            options = await client.get(f"/v1/accounts/{lazada}/orders/{order_id}/cancel-options")
            problem = _unreadable(options, lazada)
            assert f"PUT /v1/accounts/{lazada}/tokens" in problem["detail"]
            for other in (shoplazza, newegg):
                answer = await client.get(f"/v1/accounts/{other}/orders/1001/cancel-options")
                # Only the key helps there: their credentials cannot be replaced over the API.
                assert "PUT" not in _unreadable(answer, other)["detail"]

            body = {"reason": "out_of_stock"}
            key = {"Idempotency-Key": "after-the-key-changed"}
            path = f"/v1/accounts/{lazada}/orders/{order_id}/cancellations"
            refused = await client.post(path, json=body, headers=key)
            problem = _unreadable(refused, lazada)
            again = await client.post(path, json=body, headers=key)
            assert again.status_code == 424
            assert again.json() == problem
            recorded = (await client.get(f"/v1/cancellations/{problem['cancellation_id']}")).json()
            assert (recorded["status"], recorded["error_code"]) == (
                "failed",
                "credentials_unreadable",
            )
            backfill = await client.post(
                f"/v1/accounts/{lazada}/backfill", json={"since": "2026-01-01T00:00:00Z"}
            )
            _unreadable(backfill, lazada)
            assert (await client.get(f"/v1/accounts/{lazada}/sync-runs")).json() == []
            # Nothing reached the marketplace.
            assert await sandbox_calls(sandbox) == {}

            # A push for the account: its sync pauses the account instead of failing.
            await sandbox.put(
                "/_sandbox/config", json={"webhook_url": f"{service.url}/webhooks/lazada"}
            )
            pushed = (
                await sandbox.post(
                    "/_sandbox/orders", json={"seller_id": SELLER, "items": [{"sku": "B"}]}
                )
            ).json()
            assert all(p["status_code"] == 200 for p in pushed["pushes"]), pushed["pushes"]
            await wait_for(lambda: _flagged(service, lazada), what="the account to be paused")
            account = (await client.get(f"/v1/accounts/{lazada}")).json()
            assert account["reauth_reason"] == UNREADABLE_REASON
            (event,) = await _pending_events(service)
            assert event["last_error"].startswith("paused: The credentials stored for account")
            assert "PUT /v1/accounts/" in event["last_error"]

            # Re-connecting stores tokens under the current key and runs the paused sync.
            put = await client.put(
                f"/v1/accounts/{lazada}/tokens",
                json={
                    "access_token": seller["access_token"],
                    "refresh_token": seller["refresh_token"],
                },
            )
            assert put.status_code == 200, put.text
            assert put.json()["needs_reauth"] is False
            new_order = pushed["order"]["order_id"]
            await wait_for(lambda: _synced(service, lazada, new_order), what="the paused sync")
            options = await client.get(f"/v1/accounts/{lazada}/orders/{order_id}/cancel-options")
            assert options.status_code == 200, options.text

        log = service.log()
        unreadable = [line for line in log if line["event"] == "account.credentials.unreadable"]
        assert {line["account_id"] for line in unreadable} == {lazada, shoplazza, newegg}
        for line in unreadable:
            assert line["level"] == "warning"
            assert "ORDERSYNC_ENCRYPTION_KEYS" in line["fix"]
        events = {line["event"] for line in log}
        assert "http.unhandled_error" not in events
        assert "worker.job.error" not in events
        raw = service.raw_log()
        assert "Traceback" not in raw
        for secret in (seller["access_token"], seller["refresh_token"], "KEY-A"):
            assert secret not in raw

    async def test_the_key_put_back_resumes_the_paused_work(
        self,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        service_args: dict[str, Any],
        database_url: str,
    ) -> None:
        lazada = (await connect_seller(api, sandbox, seller_id=SELLER))["account"]["id"]
        async with serve(keys=OTHER_KEY, name="without", **service_args) as service:
            await sandbox.put(
                "/_sandbox/config", json={"webhook_url": f"{service.url}/webhooks/lazada"}
            )
            pushed = (
                await sandbox.post(
                    "/_sandbox/orders", json={"seller_id": SELLER, "items": [{"sku": "A"}]}
                )
            ).json()
            await wait_for(lambda: _flagged(service, lazada), what="the account to be paused")
            assert len(await _pending_events(service)) == 1

        order_id = pushed["order"]["order_id"]
        async with serve(
            keys=f"{OTHER_KEY},{ENCRYPTION_KEY}", name="with", **service_args
        ) as service:
            await wait_for(lambda: _synced(service, lazada, order_id), what="the resumed sync")
            account = (await service.client.get(f"/v1/accounts/{lazada}")).json()
            assert (account["needs_reauth"], account["reauth_reason"]) == (False, None)
            assert await _pending_events(service) == []
        log = service.log()
        resumed = [line for line in log if line["event"] == "account.credentials.readable"]
        assert [line["account_id"] for line in resumed] == [lazada]

    async def test_a_pending_marketplace_decision_waits_for_readable_credentials(
        self,
        api: httpx.AsyncClient,
        newegg: httpx.AsyncClient,
        service_args: dict[str, Any],
    ) -> None:
        seller = (
            await newegg.post("/_sandbox/sellers", json={"seller_id": "A006", "sites": ["us"]})
        ).json()
        account = (
            await api.post(
                "/v1/accounts",
                json={
                    "marketplace": "newegg",
                    "seller_id": "A006",
                    "site": "us",
                    "api_key": seller["api_key"],
                    "secret_key": seller["secret_key"],
                },
            )
        ).json()["id"]
        order = (
            await newegg.post("/_sandbox/orders", json={"seller_id": "A006", "fulfillment": "sbn"})
        ).json()["order_number"]
        # Shipped by Newegg: accepted, and the worker follows the warehouse's decision.
        accepted = await api.post(
            f"/v1/accounts/{account}/orders/{order}/cancellations",
            json={"reason": "customer_request"},
            headers={"Idempotency-Key": "sbn-1"},
        )
        assert accepted.status_code == 202, accepted.text
        cancellation = f"/v1/cancellations/{accepted.json()['id']}"
        await newegg.post(f"/_sandbox/orders/{order}/sbn-result", json={"result": "Success"})

        async with serve(keys=OTHER_KEY, name="poll-without", **service_args) as service:

            async def refused() -> bool:
                return any(
                    line["event"] == "account.credentials.unreadable"
                    and line["account_id"] == account
                    for line in service.log()
                )

            await wait_for(refused, what="the poll to find the credentials unreadable")
            assert (await service.client.get(cancellation)).json()["status"] == "processing"
        assert "worker.job.error" not in {line["event"] for line in service.log()}
        assert "Traceback" not in service.raw_log()

        async with serve(
            keys=f"{OTHER_KEY},{ENCRYPTION_KEY}", name="poll-with", **service_args
        ) as service:

            async def decided() -> bool:
                found = (await service.client.get(cancellation)).json()
                return bool(found["status"] == "succeeded")

            await wait_for(decided, what="the poll to record the decision")
