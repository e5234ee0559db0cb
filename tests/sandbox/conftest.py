"""Fixtures for the sandbox tests: each sandbox (and Lazada's webhook receiver) on real ports.

One server pair per module keeps the suite fast; every test starts from ``/_sandbox/reset``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.kit.server import BackgroundServer, serve_in_background
from app.sandbox.lazada.app import create_lazada_sandbox
from app.sandbox.newegg.app import create_newegg_sandbox
from app.sandbox.shoplazza.app import create_shoplazza_sandbox

from .lazada_support import APP_KEY, APP_SECRET, Receiver, Sandbox, receiver_app
from .newegg_support import NeweggSandbox
from .shoplazza_support import ShoplazzaSandbox


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    async with serve_in_background(receiver_app(hook)) as server:
        hook.url = f"{server.url}/hook"
        yield hook


@pytest.fixture(scope="module")
async def sandbox_server(receiver: Receiver) -> AsyncIterator[BackgroundServer]:
    app = create_lazada_sandbox(app_key=APP_KEY, app_secret=APP_SECRET, webhook_url=receiver.url)
    async with serve_in_background(app) as server:
        yield server


@pytest.fixture
async def sandbox(sandbox_server: BackgroundServer, receiver: Receiver) -> AsyncIterator[Sandbox]:
    async with httpx.AsyncClient(base_url=sandbox_server.url, timeout=10) as http:
        client = Sandbox(http, sandbox_server.url)
        await client.admin("POST", "/reset")
        receiver.records.clear()
        receiver.status_code = 200
        yield client


# --- Shoplazza and Newegg sandboxes -----------------------------------------------------------


@pytest.fixture(scope="module")
async def shoplazza_server() -> AsyncIterator[BackgroundServer]:
    async with serve_in_background(create_shoplazza_sandbox()) as server:
        yield server


@pytest.fixture
async def shoplazza(shoplazza_server: BackgroundServer) -> AsyncIterator[ShoplazzaSandbox]:
    async with httpx.AsyncClient(base_url=shoplazza_server.url, timeout=10) as http:
        client = ShoplazzaSandbox(http, shoplazza_server.url)
        await client.admin("POST", "/reset")
        yield client


@pytest.fixture(scope="module")
async def newegg_server() -> AsyncIterator[BackgroundServer]:
    async with serve_in_background(create_newegg_sandbox()) as server:
        yield server


@pytest.fixture
async def newegg(newegg_server: BackgroundServer) -> AsyncIterator[NeweggSandbox]:
    async with httpx.AsyncClient(base_url=newegg_server.url, timeout=10) as http:
        client = NeweggSandbox(http, newegg_server.url)
        await client.admin("POST", "/reset")
        yield client
