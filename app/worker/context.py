"""What a job needs from the process: settings, sessions, and marketplace clients."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.integrations.clients import Clients
from app.integrations.lazada.client import LazadaClient
from app.models import MarketplaceAccount


class WorkerContext:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        clients: Clients | None = None,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.http = http
        # Shared with the API when both run in one process, so they share rate limits too.
        self.clients = clients or Clients(settings, http)

    def lazada(self, account: MarketplaceAccount) -> LazadaClient:
        return self.clients.lazada(account)
