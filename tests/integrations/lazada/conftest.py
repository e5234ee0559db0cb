"""Fixtures for the Lazada integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.integrations.http import new_http_client
from app.worker.context import WorkerContext


@pytest.fixture
async def ctx(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[WorkerContext]:
    """What a job gets, for running job code in the test's own event loop."""
    async with new_http_client(timeout=settings.http_timeout) as http:
        yield WorkerContext(settings, sessionmaker, http)
