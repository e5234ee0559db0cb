"""The Newegg sandbox's in-memory records: sellers, orders, SBN cancellation requests, faults,
counters and rate windows. Mutated synchronously on one event loop only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Site = Literal["us", "b2b", "ca"]
Fulfillment = Literal["seller", "sbn"]
SbnResult = Literal["Processing", "Success", "Failed"]

SITE_PREFIX: dict[str, str] = {
    "us": "/marketplace",
    "b2b": "/marketplace/b2b",
    "ca": "/marketplace/can",
}

# Canonical order statuses and their Get Order Status codes (shoplazza_newegg.md §B3).
STATUS_CODE: dict[str, int] = {
    "Unshipped": 0,
    "PartiallyShipped": 1,
    "Shipped": 2,
    "Invoiced": 3,
    "Voided": 4,
}
STATUS_ALIASES = {"Partially Shipped": "PartiallyShipped", "Void": "Voided"}
# While an SBN cancellation is pending (seller portal: "The order status will update to
# Processing"); the .NET SDK's OrderStatusType models it as 99.
PROCESSING_CODE = 99
STATUS_NAME = {0: "Unshipped", 1: "PartiallyShipped", 2: "Shipped", 3: "Invoiced", 4: "Void"}
STATUS_DESCRIPTION = {
    0: "Unshipped",
    1: "Partially Shipped",
    2: "Shipped",
    3: "Invoiced",
    4: "Voided",
    PROCESSING_CODE: "Processing",
}
STATUS_NAME[PROCESSING_CODE] = "Processing"

CANCEL_REASONS = {
    24: "OutOfStock",
    72: "CustomerRequestedToCancel",
    73: "PriceError",
    74: "UnableToFulfillOrder",
}
ITEM_UNSHIPPED, ITEM_SHIPPED, ITEM_CANCELLED = 1, 2, 3
ITEM_STATUS_DESCRIPTION = {1: "Unshipped", 2: "Shipped", 3: "Cancelled"}


@dataclass
class Seller:
    seller_id: str
    api_key: str
    secret_key: str
    sites: frozenset[str]


@dataclass
class Item:
    seller_part_number: str
    newegg_item_number: str
    mfr_part_number: str
    description: str
    quantity: int
    unit_price: Decimal
    shipped_qty: int = 0
    status: int = ITEM_UNSHIPPED


@dataclass
class SbnCancellation:
    request_date: datetime
    reason_code: int
    result: SbnResult = "Processing"
    error_message: str = ""
    polls: int = 0


@dataclass
class Order:
    order_number: int
    seller_id: str
    site: str
    status: str
    fulfillment: Fulfillment
    items: list[Item]
    order_date: datetime
    shipping_amount: Decimal = Decimal("0.00")
    downloaded: bool = False
    cancel_reason_code: int | None = None
    voided_at: datetime | None = None
    sbn: SbnCancellation | None = None
    # A pending SBN cancellation resolves to this after ``sbn_polls_before_result`` polls
    # answered Processing; None waits for POST /_sandbox/orders/{n}/sbn-result.
    sbn_auto_result: Literal["Success", "Failed"] | None = None
    sbn_polls_before_result: int = 0
    reject_cancel_with: str | None = None

    @property
    def status_code(self) -> int:
        if self.sbn is not None and self.sbn.result == "Processing":
            return PROCESSING_CODE
        return STATUS_CODE[self.status]


@dataclass
class Faults:
    """Sticky knobs (``*_next`` counters are consumed one call at a time)."""

    latency_ms: int = 0
    fail_next: int = 0
    fail_status: int = 503
    timeout_next: int = 0
    hang_ms: int = 30_000
    timeout_after_commit: bool = False
    drop_after_commit_next: int = 0
    drop_mode: Literal["close", "500"] = "close"
    bom: bool = False
    rate_limit: bool = True
    rate_limit_per_hour: int | None = None  # overrides every per-hour function limit
    rate_limit_per_minute: int | None = None  # overrides the per-minute (SBN result) limit


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
class RateWindow:
    """A fixed window opened by its first call: ``limit`` calls, then 429 until it ends."""

    start: float
    count: int = 0
