"""What an API handler gets (one authenticated call) and the parsing helpers they share."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.sandbox.lazada.errors import LazadaError, require
from app.sandbox.lazada.models import Order, Seller
from app.sandbox.lazada.state import SandboxState

_ID_LIST = re.compile(r"^\[\s*(\d+(\s*,\s*\d+)*)?\s*\]$")


@dataclass
class Call:
    state: SandboxState
    params: dict[str, str]
    seller: Seller | None
    # Pushes the handler's change caused; the gateway sends them after answering.
    pushes: list[bytes] = field(default_factory=list)

    @property
    def authed_seller(self) -> Seller:
        assert self.seller is not None, "seller APIs always run with a checked access token"
        return self.seller


Handler = Callable[[Call], dict[str, Any]]


def ok(data: Any) -> dict[str, Any]:
    return {"code": "0", "data": data}


def parse_id_list(text: str) -> list[int] | None:
    """Lazada's list parameters are bracketed strings, ``[1,2]``; None if malformed."""
    if not _ID_LIST.match(text.strip()):
        return None
    inner = text.strip()[1:-1].strip()
    return [int(part) for part in inner.split(",")] if inner else []


def seller_order(call: Call, order_id: int) -> Order | None:
    """The caller's own order: another store's order is as invisible as a missing one, and so
    is one placed in the future (a benchmark seeds a sale's orders ahead of time; each exists
    from its ``created_at`` on, when its pushes are sent)."""
    order = call.state.orders.get((call.authed_seller.seller_id, order_id))
    if order is None or order.created_at > call.state.now_s():
        return None
    return order


def order_id_param(call: Call, not_found: LazadaError) -> Order:
    raw = require(call.params, "order_id")
    order = seller_order(call, int(raw)) if raw.isdigit() else None
    if order is None:
        raise not_found
    return order
