"""The Lazada sandbox for the rate-limit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.kit.server import BackgroundServer


@pytest.fixture
async def lazada(sandbox_server: BackgroundServer) -> AsyncIterator[httpx.AsyncClient]:
    """The Lazada sandbox's control API, reset (no pushes: nothing here needs them)."""
    async with httpx.AsyncClient(base_url=sandbox_server.url, timeout=30) as client:
        (await client.post("/_sandbox/reset")).raise_for_status()
        yield client
