"""One place that builds a marketplace client for an account, with the process's shared HTTP
client, the configured base URLs and the rate limiters every process shares."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.integrations.lazada.client import LazadaClient
from app.integrations.newegg.client import NeweggClient
from app.integrations.ratelimit import RateLimiters
from app.integrations.shoplazza.client import ShoplazzaClient
from app.models import MarketplaceAccount


class WrongMarketplace(ValueError):
    pass


class Clients:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, limiters: RateLimiters) -> None:
        self.settings = settings
        self.http = http
        self.limiters = limiters

    def _check(self, account: MarketplaceAccount, marketplace: str) -> None:
        if account.marketplace != marketplace:
            raise WrongMarketplace(f"account {account.id} is not a {marketplace} account")

    def lazada(self, account: MarketplaceAccount) -> LazadaClient:
        self._check(account, "lazada")
        return LazadaClient(
            self.http,
            app_key=self.settings.lazada_app_key,
            app_secret=self.settings.lazada_app_secret.get_secret_value(),
            country=account.country or "",
            access_token=account.access_token,
            api_base=self.settings.lazada_api_base,
            auth_base=self.settings.lazada_auth_base,
            limiter=self.limiters.bucket("lazada", str(account.id)),
        )

    def shoplazza(self, account: MarketplaceAccount) -> ShoplazzaClient:
        self._check(account, "shoplazza")
        return ShoplazzaClient(
            self.http,
            shop_domain=account.seller_id,
            access_token=account.access_token or "",
            api_base=self.settings.shoplazza_api_base,
            limiter=self.limiters.bucket("shoplazza", str(account.id)),
        )

    def newegg(self, account: MarketplaceAccount) -> NeweggClient:
        self._check(account, "newegg")
        return NeweggClient(
            self.http,
            seller_id=account.seller_id,
            site=account.site or "us",
            api_key=account.api_key or "",
            secret_key=account.secret_key or "",
            api_base=self.settings.newegg_api_base,
            limiter=self.limiters.bucket("newegg", str(account.id)),
        )
