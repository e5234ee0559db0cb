"""Small helpers shared by tests: accounts, signed pushes, database probes."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.integrations.lazada.signing import push_signature
from tests.fixtures.services import APP_KEY, APP_SECRET


async def connect_seller(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    *,
    seller_id: str = "200549968600",
    country: str = "vn",
) -> dict[str, Any]:
    """A seller in the sandbox and the matching account in our service."""
    seller = (
        await sandbox.post("/_sandbox/sellers", json={"seller_id": seller_id, "country": country})
    ).json()
    response = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "lazada",
            "seller_id": seller_id,
            "country": country,
            "access_token": seller["access_token"],
            "refresh_token": seller["refresh_token"],
        },
    )
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return {"account": account, "seller": seller}


def trade_push(
    *,
    seller_id: str = "200549968600",
    order_id: str = "446156718969495",
    line_id: str = "446156719069495",
    status: str = "pending",
    update_time: int = 1701074452,
    site: str = "lazada_vn",
) -> bytes:
    return orjson.dumps(
        {
            "seller_id": seller_id,
            "message_type": 0,
            "data": {
                "order_status": status,
                "trade_order_id": order_id,
                "trade_order_line_id": line_id,
                "status_update_time": update_time,
                "buyer_id": "200054169495",
            },
            "timestamp": 1701074463,
            "site": site,
        }
    )


def signed_headers(body: bytes, *, secret: str = APP_SECRET) -> dict[str, str]:
    return {
        "Authorization": push_signature(APP_KEY, secret, body),
        "Content-Type": "application/json",
    }


async def scalar(sessionmaker: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> Any:
    async with sessionmaker() as session:
        return (await session.execute(text(sql), params)).scalar()


async def sandbox_calls(sandbox: httpx.AsyncClient) -> dict[str, int]:
    counts: dict[str, int] = (await sandbox.get("/_sandbox/calls")).json()["by_api"]
    return counts
