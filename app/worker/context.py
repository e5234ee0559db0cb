"""What a job needs from the process: settings, sessions, and marketplace clients."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.integrations.lazada.client import LazadaClient
from app.models import MarketplaceAccount


@dataclass(frozen=True)
class WorkerContext:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient

    def lazada(self, account: MarketplaceAccount) -> LazadaClient:
        if account.marketplace != "lazada" or account.country is None:
            raise ValueError(f"account {account.id} is not a Lazada account")
        return LazadaClient(
            self.http,
            app_key=self.settings.lazada_app_key,
            app_secret=self.settings.lazada_app_secret.get_secret_value(),
            country=account.country,
            access_token=account.access_token,
            api_base=self.settings.lazada_api_base,
            auth_base=self.settings.lazada_auth_base,
        )
