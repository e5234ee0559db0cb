"""The Shoplazza sandbox's in-memory records: shops, orders, faults, counters, rate buckets.

Plain dataclasses, only mutated synchronously on one event loop, so a request never sees
another request's change half-applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, get_args

OrderStatus = Literal["opened", "placed", "finished", "cancelled"]
FulfillmentStatus = Literal[
    "initialled",
    "waiting",
    "partially_shipped",
    "shipped",
    "partially_finished",
    "finished",
    "cancelled",
    "returning",
    "returned",
    "partially_returned",
]
FinancialStatus = Literal[
    "waiting",
    "paying",
    "authorized",
    "partially_paid",
    "paid",
    "cancelled",
    "failed",
    "refunding",
    "refund_failed",
    "refunded",
    "partially_refunded",
]
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
FULFILLMENT_STATUSES: tuple[str, ...] = get_args(FulfillmentStatus)
FINANCIAL_STATUSES: tuple[str, ...] = get_args(FinancialStatus)

# Money has been taken: cancelling refunds it and the order ends "finished" (webhook FAQ).
PAID_FINANCIAL = frozenset({"paid", "partially_paid", "partially_refunded"})
# Nothing has left the warehouse yet.
UNFULFILLED = frozenset({"initialled", "waiting"})
DEFAULT_SCOPES = ("read_order", "write_order")


@dataclass
class Shop:
    domain: str
    store_id: int
    access_token: str
    scopes: frozenset[str]
    next_seq: int = 1


@dataclass
class LineItem:
    id: str
    product_id: str
    variant_id: str
    title: str
    variant_title: str
    sku: str
    quantity: int
    price: Decimal


@dataclass
class Order:
    id: str
    number: str
    shop_domain: str
    status: str
    financial_status: str
    fulfillment_status: str
    currency: str
    total_price: Decimal
    line_items: list[LineItem]
    created_at: datetime
    updated_at: datetime
    placed_at: datetime | None
    note: str = ""
    email: str = "buyer@sandbox.shoplazza.invalid"
    payment_method: str = "credit_card"
    cancel_reason: str | None = None
    canceled_at: datetime | None = None
    total_refund_price: Decimal = Decimal("0.00")


@dataclass
class Faults:
    """Sticky knobs (``*_next`` counters are consumed one call at a time)."""

    latency_ms: int = 0
    fail_next: int = 0
    fail_status: int = 500
    timeout_next: int = 0
    hang_ms: int = 30_000
    timeout_after_commit: bool = False
    drop_after_commit_next: int = 0
    drop_mode: Literal["close", "500"] = "close"
    rate_limit: bool = True
    rate_limit_per_s: float = 2.0
    rate_limit_burst: int = 40


@dataclass
class CallCounters:
    total: int = 0
    by_api: dict[str, int] = field(default_factory=dict)
    ok_by_api: dict[str, int] = field(default_factory=dict)

    def served(self, api: str) -> None:
        self.total += 1
        self.by_api[api] = self.by_api.get(api, 0) + 1

    def succeeded(self, api: str) -> None:
        self.ok_by_api[api] = self.ok_by_api.get(api, 0) + 1


@dataclass
class LeakyBucket:
    """Each call adds one drop; the bucket leaks ``rate`` drops a second; a call that would
    overflow ``capacity`` is refused."""

    level: float = 0.0
    last: float = 0.0

    def take(self, now: float, rate: float, capacity: int) -> float | None:
        """None if the call fits, else the seconds to wait before it would."""
        self.level = max(0.0, self.level - (now - self.last) * rate)
        self.last = now
        if self.level + 1 > capacity:
            return (self.level + 1 - capacity) / rate if rate > 0 else math.inf
        self.level += 1
        return None
