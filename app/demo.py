"""``ordersync demo``: the service wired to the bundled sandboxes, with demo sellers connected.

Everything runs in one process, so that one signal stops it all: the Lazada, Shoplazza and
Newegg sandboxes and the service (API, webhooks, worker) on loopback ports, over an embedded
Postgres of the demo's own under ``.ordersync/demo``. Nothing is shared with ``serve``: the demo
encrypts with its published key, which ``serve`` refuses (app/config.py).

The service's port opens only once the demo sellers are connected, so a script can wait for
it. Every start connects them again, because the sandboxes forget their sellers when they stop
while ordersync keeps its accounts: a Lazada account that exists gets the sandbox's new tokens
(``PUT /v1/accounts/{id}/tokens``, which also clears ``needs_reauth``); the Shoplazza shop and the
Newegg seller are given the same credentials at every start, so their stored ones stay right.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer
from pydantic import ValidationError

from app.config import (
    DEMO_API_TOKEN,
    DEMO_ENCRYPTION_KEY,
    DEMO_LAZADA_APP_KEY,
    DEMO_LAZADA_APP_SECRET,
    ConfigError,
    Settings,
    describe_validation_error,
)
from app.kit.server import BackgroundServer, bind

LAZADA_SELLER = {"seller_id": "100", "country": "sg"}
SHOPLAZZA_SHOP = {"shop_domain": "demo.myshoplaza.com", "access_token": "demo-shoplazza-token"}
NEWEGG_SELLER = {
    "seller_id": "DEMO1",
    "site": "us",
    "api_key": "demo-newegg-api-key",
    "secret_key": "demo-newegg-secret-key",
}


class DemoSettings(Settings):
    """Settings whose published demo credentials are accepted (and only here)."""

    demo = True


class DemoError(Exception):
    """The demo could not connect its sellers; the message says what answered what."""


@dataclass(frozen=True)
class DemoPorts:
    api: int = 8000
    lazada: int = 9000
    shoplazza: int = 9001
    newegg: int = 9002

    def __iter__(self) -> Iterator[int]:
        return iter((self.api, self.lazada, self.shoplazza, self.newegg))


def demo_settings(
    host: str, ports: DemoPorts, data_dir: Path, database_url: str | None
) -> DemoSettings:
    """The demo's own configuration: nothing from ``.env`` (that is ``serve``'s), and the
    environment only for tunables such as ``ORDERSYNC_LOG_LEVEL``."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "spool_dir": data_dir / "spool",
        "lazada_app_key": DEMO_LAZADA_APP_KEY,
        "lazada_app_secret": DEMO_LAZADA_APP_SECRET,
        "lazada_api_base": f"http://{host}:{ports.lazada}/rest",
        "lazada_auth_base": f"http://{host}:{ports.lazada}/rest",
        "shoplazza_api_base": f"http://{host}:{ports.shoplazza}",
        "newegg_api_base": f"http://{host}:{ports.newegg}",
        "api_tokens": DEMO_API_TOKEN,
        "encryption_keys": DEMO_ENCRYPTION_KEY,
    }
    try:
        return DemoSettings(_env_file=None, **values)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def check_ports(host: str, ports: DemoPorts) -> None:
    """Fail at once, before Postgres starts, when a port is taken (``CannotListen``)."""
    for port in ports:
        bind(host, port).close()


def _answer(response: httpx.Response, what: str) -> Any:
    if response.is_error:
        raise DemoError(f"{what}: {response.status_code} {response.text}")
    return response.json()


async def _connect(api: httpx.AsyncClient, account: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Connect ``account``, or find it when ordersync has it already. True: it is new."""
    marketplace = account["marketplace"]
    response = await api.post("/v1/accounts", json=account)
    if response.status_code != 409 or response.json().get("code") != "account_exists":
        return _answer(response, f"connecting the {marketplace} seller"), True
    seller_id = account.get("seller_id", account.get("shop_domain"))
    for existing in _answer(await api.get("/v1/accounts"), "listing the accounts"):
        if (existing["marketplace"], existing["seller_id"]) == (marketplace, seller_id):
            return existing, False
    raise DemoError(f"ordersync answered account_exists for the {marketplace} seller, lists none")


async def connect_sellers(
    api: httpx.AsyncClient,
    lazada: httpx.AsyncClient,
    shoplazza: httpx.AsyncClient,
    newegg: httpx.AsyncClient,
) -> dict[str, dict[str, Any]]:
    """One seller at each sandbox and its account in ordersync, whatever either remembers."""
    seller = _answer(
        await lazada.post("/_sandbox/sellers", json=LAZADA_SELLER), "the Lazada sandbox"
    )
    tokens = {"access_token": seller["access_token"], "refresh_token": seller["refresh_token"]}
    account, new = await _connect(api, {"marketplace": "lazada", **LAZADA_SELLER, **tokens})
    if not new:
        # Stored by an earlier run: its tokens (perhaps refused since: needs_reauth) are ones
        # the restarted sandbox never issued.
        account = _answer(
            await api.put(f"/v1/accounts/{account['id']}/tokens", json=tokens),
            "storing the Lazada seller's new tokens",
        )
    _answer(await shoplazza.post("/_sandbox/shops", json=SHOPLAZZA_SHOP), "the Shoplazza sandbox")
    shop, _ = await _connect(api, {"marketplace": "shoplazza", **SHOPLAZZA_SHOP})
    newegg_seller = {
        "seller_id": NEWEGG_SELLER["seller_id"],
        "sites": [NEWEGG_SELLER["site"]],
        "api_key": NEWEGG_SELLER["api_key"],
        "secret_key": NEWEGG_SELLER["secret_key"],
    }
    _answer(await newegg.post("/_sandbox/sellers", json=newegg_seller), "the Newegg sandbox")
    vendor, _ = await _connect(api, {"marketplace": "newegg", **NEWEGG_SELLER})
    return {"lazada": account, "shoplazza": shop, "newegg": vendor}


def next_steps(host: str, ports: DemoPorts, accounts: dict[str, dict[str, Any]]) -> str:
    api = f"http://{host}:{ports.api}"
    return f"""
Demo ready: ordersync on {api} (docs: {api}/docs), API token {DEMO_API_TOKEN}
  Lazada sandbox    http://{host}:{ports.lazada}     seller 100 (sg)          account {accounts["lazada"]["id"]}
  Shoplazza sandbox http://{host}:{ports.shoplazza}     demo.myshoplaza.com      account {accounts["shoplazza"]["id"]}
  Newegg sandbox    http://{host}:{ports.newegg}     seller DEMO1 (us)        account {accounts["newegg"]["id"]}
Try it (README, "Try it without a marketplace account", has the whole walkthrough):
  curl -s -XPOST {host}:{ports.lazada}/_sandbox/orders -H 'content-type: application/json' \\
       -d '{{"seller_id":"100","items":[{{"sku":"A"}},{{"sku":"B"}}]}}'
  curl -s {host}:{ports.api}/v1/orders -H 'Authorization: Bearer {DEMO_API_TOKEN}'
Ctrl-C stops the demo (sandboxes, service and its Postgres).
"""  # noqa: E501


async def run_demo(settings: Settings, database_url: str, host: str, ports: DemoPorts) -> None:
    from app.main import create_app
    from app.sandbox.lazada.app import create_lazada_sandbox
    from app.sandbox.newegg.app import create_newegg_sandbox
    from app.sandbox.shoplazza.app import create_shoplazza_sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sandboxes = [
        BackgroundServer(
            create_lazada_sandbox(
                app_key=DEMO_LAZADA_APP_KEY,
                app_secret=DEMO_LAZADA_APP_SECRET,
                webhook_url=f"http://{host}:{ports.api}/webhooks/lazada",
            ),
            host=host,
            port=ports.lazada,
        ),
        BackgroundServer(create_shoplazza_sandbox(), host=host, port=ports.shoplazza),
        BackgroundServer(create_newegg_sandbox(), host=host, port=ports.newegg),
    ]
    service = BackgroundServer(
        create_app(settings, database_url, with_worker=True), host=host, port=ports.api
    )
    try:
        for sandbox in sandboxes:
            await sandbox.start()
        accounts = await _seed(settings, database_url, [s.url for s in sandboxes])
        await service.start()
        typer.echo(next_steps(host, ports, accounts))
        await stop.wait()
        typer.echo("Stopping the demo...")
    finally:
        await service.stop()
        for sandbox in reversed(sandboxes):
            await sandbox.stop()


async def _seed(
    settings: Settings, database_url: str, sandbox_urls: list[str]
) -> dict[str, dict[str, Any]]:
    """Connect the sellers through the API of an app of their own that runs no worker and
    listens nowhere: the worker must not try the stale tokens of an earlier run meanwhile, and
    the port that scripts wait on must not open before the sellers are connected."""
    from app.main import create_app

    app = create_app(settings, database_url, with_worker=False)
    headers = {"Authorization": f"Bearer {DEMO_API_TOKEN}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://demo", headers=headers
        ) as api,
        httpx.AsyncClient(base_url=sandbox_urls[0], timeout=10) as lazada,
        httpx.AsyncClient(base_url=sandbox_urls[1], timeout=10) as shoplazza,
        httpx.AsyncClient(base_url=sandbox_urls[2], timeout=10) as newegg,
    ):
        return await connect_sellers(api, lazada, shoplazza, newegg)
