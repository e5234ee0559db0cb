from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.integrations.base import FetchedItem, FetchedOrder
from app.orders.service import order as order_service

T0 = datetime(2026, 12, 12, tzinfo=UTC)


async def _store(
    sessionmaker: async_sessionmaker[AsyncSession], account_id: str, order_id: str, status: str
) -> None:
    import uuid

    fetched = FetchedOrder(
        external_order_id=order_id,
        order_number=order_id,
        updated_at=T0,
        price=Decimal("1"),
        items=[FetchedItem(external_item_id=f"{order_id}-1", status=status, status_updated_at=T0)],
    )
    async with sessionmaker() as session, session.begin():
        await order_service.apply_fetched(session, uuid.UUID(account_id), fetched, source="test")


async def _account(api: httpx.AsyncClient, seller: str = "42") -> str:
    body = {
        "marketplace": "lazada",
        "seller_id": seller,
        "country": "th",
        "access_token": "a",
        "refresh_token": "r",
    }
    account: dict[str, Any] = (await api.post("/v1/accounts", json=body)).json()
    return str(account["id"])


class TestListOrders:
    async def test_filters_and_cursor_pagination(
        self, api: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        first, second = await _account(api, "1"), await _account(api, "2")
        for n in range(5):
            await _store(sessionmaker, first, f"A{n}", "pending" if n % 2 else "shipped")
        await _store(sessionmaker, second, "B0", "pending")

        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"account_id": first, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await api.get("/v1/orders", params=params)).json()
            seen += [o["order_id"] for o in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == [f"A{n}" for n in range(5)]
        assert len(seen) == len(set(seen))

        pending = (await api.get("/v1/orders", params={"item_status": "pending"})).json()
        assert sorted(o["order_id"] for o in pending["items"]) == ["A1", "A3", "B0"]
        future = (T0 + timedelta(days=3650)).isoformat()
        none = (await api.get("/v1/orders", params={"updated_since": future})).json()
        assert none == {"items": [], "next_cursor": None}

    async def test_bad_cursor_and_unknown_account(self, api: httpx.AsyncClient) -> None:
        bad = await api.get("/v1/orders", params={"cursor": "!!!"})
        assert bad.status_code == 400
        assert bad.json()["code"] == "invalid_cursor"
        missing = await api.get(
            "/v1/orders", params={"account_id": "00000000-0000-0000-0000-000000000000"}
        )
        assert missing.status_code == 404

    async def test_order_detail_404(self, api: httpx.AsyncClient) -> None:
        account = await _account(api)
        response = await api.get(f"/v1/accounts/{account}/orders/999")
        assert response.status_code == 404
        assert response.json()["code"] == "order_not_found"
