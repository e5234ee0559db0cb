"""Shared HTTP plumbing for marketplace clients: one tuned client, one backoff formula."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import structlog

from app.db import database_unavailable
from app.integrations import errors
from app.integrations.ratelimit import MustWait, RateLimiter
from app.metrics import MARKETPLACE_CALLS, marketplace_of

T = TypeVar("T")

log = structlog.get_logger(__name__)

USER_AGENT = "ordersync/0.1 (+https://github.com/ordersync/ordersync)"


_IDS = re.compile(r"/\d[\d-]{2,}")


async def _count_call(response: httpx.Response) -> None:
    path = response.request.url.path
    api = _IDS.sub("/{id}", path.split("/rest", 1)[-1] if "/rest/" in path else path)
    MARKETPLACE_CALLS.labels(marketplace_of(path), api, str(response.status_code)).inc()


def new_http_client(*, timeout: float = 10.0, max_connections: int = 50) -> httpx.AsyncClient:
    """The one ``httpx.AsyncClient`` a process shares across marketplace clients; it counts
    every call it makes (``ordersync_marketplace_calls_total``)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
        headers={"User-Agent": USER_AGENT},
        event_hooks={"response": [_count_call]},
    )


async def call_marketplace(
    marketplace: str,
    what: str,
    send: Callable[[], Awaitable[httpx.Response]],
    read: Callable[[httpx.Response], T],
    limiter: RateLimiter | None,
) -> T:
    """One marketplace call, paced by ``limiter``, with transport failures mapped to our error
    tree. ``read`` is the marketplace's own answer-to-error mapping; when it says "slow down",
    the account's bucket holds every caller, in every process, until the marketplace's time is
    up. The limiter's database errors reach the caller as they are (it waits for the database
    as for any other statement), except while a "slow down" is being reported: that answer is
    the one to act on, and the next call's token will meet the same database."""
    if limiter is not None:
        try:
            await limiter.acquire()
        except MustWait as wait:
            raise errors.RateLimited(
                str(wait), marketplace=marketplace, retry_after=wait.seconds
            ) from None
    try:
        response = await send()
    except httpx.TimeoutException as exc:
        raise errors.MarketplaceTimeout(f"{what} timed out", marketplace=marketplace) from exc
    except httpx.TransportError as exc:
        raise errors.MarketplaceConnectionError(
            f"{what}: {type(exc).__name__}", marketplace=marketplace
        ) from exc
    try:
        return read(response)
    except errors.RateLimited as exc:
        if limiter is not None:
            try:
                await limiter.hold(exc.retry_after or 1.0)
            except Exception as hold_error:
                if not database_unavailable(hold_error):
                    raise
                log.warning(
                    "ratelimit.hold_failed",
                    marketplace=marketplace,
                    error=type(hold_error).__name__,
                )
        raise
