from __future__ import annotations

import uuid
from typing import Any

import httpx


async def cancel(
    api: httpx.AsyncClient,
    account_id: str,
    order_id: Any,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    return await api.post(
        f"/v1/accounts/{account_id}/orders/{order_id}/cancellations",
        json=body,
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )


async def calls(control: httpx.AsyncClient) -> dict[str, int]:
    counts: dict[str, int] = (await control.get("/_sandbox/calls")).json()["by_api"]
    return counts
