"""What a job needs from the process: settings, sessions, and marketplace clients."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.integrations.clients import Clients
from app.integrations.lazada.client import LazadaClient
from app.integrations.ratelimit import RateLimiters
from app.models import MarketplaceAccount


class WorkerContext:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        clients: Clients | None = None,
        *,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.http = http
        # The process's pool: the sessionmaker's engine unless told otherwise.
        engine = engine or sessionmaker.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        if clients is None:
            # The rate limits are rows in the database, taken on the process's own pool.
            clients = Clients(settings, http, RateLimiters.from_settings(engine, settings))
        # Shared with the API when both run in one process, so they share the per-process
        # gates in front of the buckets too.
        self.clients = clients

    def lazada(self, account: MarketplaceAccount) -> LazadaClient:
        return self.clients.lazada(account)
