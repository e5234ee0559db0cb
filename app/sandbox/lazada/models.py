"""The sandbox's in-memory records: sellers, tokens, orders, order lines, faults and the clock.

Plain dataclasses: they are only ever mutated synchronously inside one event loop, so a request
can never observe a half-applied change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

Country = Literal["sg", "my", "vn", "th", "ph", "id"]
DateFormat = Literal["lazada", "iso"]

# Lazada renders every date in the venture's local time with its offset.
COUNTRY_UTC_OFFSET_H: dict[str, int] = {"sg": 8, "my": 8, "ph": 8, "vn": 7, "th": 7, "id": 7}
COUNTRY_CURRENCY: dict[str, str] = {
    "sg": "SGD",
    "my": "MYR",
    "ph": "PHP",
    "vn": "VND",
    "th": "THB",
    "id": "IDR",
}
COUNTRY_NAME: dict[str, str] = {
    "sg": "Singapore",
    "my": "Malaysia",
    "ph": "Philippines",
    "vn": "Vietnam",
    "th": "Thailand",
    "id": "Indonesia",
}

# Statuses after which an order line sits in a package (Lazada creates the package on "pack").
PACKAGED_STATUSES = frozenset({"packed", "repacked", "ready_to_ship_pending", "ready_to_ship"})
# "Only order items with the Pending ~ Ready To Ship status can be cancelled" (docId 121329).
CANCELLABLE_STATUSES = frozenset({"pending"}) | PACKAGED_STATUSES


class Clock:
    """Wall clock with an adjustable offset, so tests can age tokens without sleeping."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s


@dataclass
class Seller:
    seller_id: str
    country: Country
    user_id: str
    short_code: str
    account: str
    access_token_ttl_s: int
    refresh_token_ttl_s: int


@dataclass
class Token:
    value: str
    seller_id: str
    expires_at: float
    revoked: bool = False

    def valid_at(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass
class Address:
    first_name: str
    last_name: str
    phone: str
    phone2: str
    address1: str
    address2: str
    address3: str
    address4: str
    address5: str
    city: str
    post_code: str
    country: str
    address_district: str


@dataclass
class Item:
    """One unit of one order line: Lazada returns an object per unit, each with its own id."""

    order_item_id: int
    status: str
    name: str
    sku: str
    shop_sku: str
    sku_id: str
    product_id: str
    variation: str
    item_price: float
    paid_price: float
    voucher_amount: float
    shipping_amount: float
    tax_amount: float
    package_id: str
    tracking_code: str
    shipment_provider: str
    created_at: int
    updated_at: int
    reason: str = ""
    reason_detail: str = ""
    cancel_return_initiator: str = ""
    is_digital: int = 0


@dataclass
class Order:
    seller_id: str
    order_id: int
    buyer_id: str
    created_at: int
    updated_at: int
    price: float
    voucher: float
    shipping_fee: float
    payment_method: str
    address: Address
    date_format: DateFormat
    extra_attributes: str
    items: list[Item] = field(default_factory=list)

    @property
    def statuses(self) -> list[str]:
        """Distinct item statuses in first-seen order, as Lazada's ``statuses`` field."""
        return list(dict.fromkeys(item.status for item in self.items))


@dataclass
class Faults:
    """Sticky failure knobs; ``expire_access_tokens`` is a one-shot action, so it is not here."""

    latency_ms: int = 0
    fail_next: int = 0
    error_rate: float = 0.0
    throttle_next: int = 0
    throttle_code: str = "ApiCallLimit"
    # The next N calls that change state do change it, then answer 503: the caller never
    # learns that it worked (a response lost on the way back).
    drop_after_commit_next: int = 0
    refuse_refresh: bool = False
    duplicate_pushes: bool = False
    reverse_pushes: bool = False
    push_delay_ms: int = 0
    # GetOrders' offset cap (the API schema's 4500); tests lower it to exercise paging past it.
    max_offset: int = 4500


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` that fall within any ``window`` seconds (half-open, [t, t + window)):
    what a rate limit of N calls a second with a burst of B allows at most N + B of."""
    ordered = sorted(times)
    best = start = 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class CallCounters:
    total: int = 0
    by_api: dict[str, int] = field(default_factory=dict)
    ok_by_api: dict[str, int] = field(default_factory=dict)
    # When each call arrived (wall clock, epoch seconds), in all and per seller (known by the
    # access or refresh token it carries, valid or not: a refused call counts against Lazada's
    # limits too), so that a test or a benchmark can check that no seller went over its limit.
    times: list[float] = field(default_factory=list)
    times_by_seller: dict[str, list[float]] = field(default_factory=dict)

    def served(self, api: str, seller_id: str | None = None) -> None:
        at = time.time()
        self.total += 1
        self.by_api[api] = self.by_api.get(api, 0) + 1
        self.times.append(at)
        if seller_id is not None:
            self.times_by_seller.setdefault(seller_id, []).append(at)

    def succeeded(self, api: str) -> None:
        self.ok_by_api[api] = self.ok_by_api.get(api, 0) + 1

    def summary(self, *, with_times: bool = False) -> dict[str, Any]:
        """``GET /_sandbox/calls``: the counts, the most calls in any one second (in all and per
        seller), and with ``with_times`` every call's arrival time per seller."""
        by_seller: dict[str, Any] = {}
        for seller_id, times in self.times_by_seller.items():
            entry: dict[str, Any] = {
                "total": len(times),
                "max_per_second": max_in_window(times),
                "first_at": min(times),
                "last_at": max(times),
            }
            if with_times:
                entry["times"] = times
            by_seller[seller_id] = entry
        return {
            "total": self.total,
            "by_api": self.by_api,
            "ok_by_api": self.ok_by_api,
            "max_per_second": max_in_window(self.times),
            "by_seller": by_seller,
        }
