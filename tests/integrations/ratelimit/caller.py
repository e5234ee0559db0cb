"""A process of ours that calls one Lazada seller as fast as its limiter lets it.

``python -m tests.integrations.ratelimit.caller ACCOUNT_ID ORDER_ID CALLERS SECONDS`` with the
service's configuration in the environment (``DATABASE_URL``, ``LAZADA_*``,
``ORDERSYNC_LAZADA_RATE``...) and the seller's access token in ``SELLER_ACCESS_TOKEN``. It
builds its pool, HTTP client and limiter as ``ordersync worker`` does, prints ``ready``, waits
for a line on stdin (so that several start at once), calls GetOrder from ``CALLERS``
coroutines for ``SECONDS``, and prints ``calls N``. Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from app.config import load_settings
from app.db import create_engine, create_sessionmaker, to_sqlalchemy_url
from app.integrations.http import new_http_client
from app.logging import configure_logging
from app.models import MarketplaceAccount
from app.worker.context import WorkerContext
from tests.integrations.ratelimit.support import Seller, hammer_all


def say(line: str) -> None:
    """One line of the protocol with the test, on stdout."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(account_id: str, order_id: str, callers: int, seconds: float) -> int:
    settings = load_settings()
    configure_logging(level=settings.log_level)
    assert settings.database_url is not None
    engine = create_engine(
        to_sqlalchemy_url(settings.database_url), process_name="ratelimit-caller", pool_size=5
    )
    account = MarketplaceAccount(
        id=uuid.UUID(account_id),
        marketplace="lazada",
        seller_id="",
        country="sg",
        access_token=os.environ["SELLER_ACCESS_TOKEN"],
    )
    try:
        async with new_http_client(timeout=settings.http_timeout) as http:
            ctx = WorkerContext(settings, create_sessionmaker(engine), http, engine=engine)
            say("ready")
            await asyncio.to_thread(sys.stdin.readline)
            made = await hammer_all(
                [ctx], [Seller("", order_id, account)], callers=callers, seconds=seconds
            )
    finally:
        await engine.dispose()
    say(f"calls {sum(made)}")
    return 0


if __name__ == "__main__":
    account_id, order_id, callers, seconds = sys.argv[1:5]
    sys.exit(asyncio.run(main(account_id, order_id, int(callers), float(seconds))))
