"""The shape every marketplace integration hands to the order domain.

Clients speak their marketplace's wire format; ``to_domain()`` mappers turn answers into these
plain records, so that ``app.orders`` never sees a marketplace's quirks. Errors follow the tree
in ``app.integrations.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class FetchedItem:
    external_item_id: str
    status: str
    status_updated_at: datetime | None
    sku: str | None = None
    shop_sku: str | None = None
    name: str | None = None
    item_price: Decimal | None = None
    paid_price: Decimal | None = None
    currency: str | None = None
    package_id: str | None = None
    tracking_code: str | None = None
    shipment_provider: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FetchedOrder:
    external_order_id: str
    order_number: str | None
    items: list[FetchedItem]
    updated_at: datetime | None
    placed_at: datetime | None = None
    currency: str | None = None
    price: Decimal | None = None
    voucher: Decimal | None = None
    shipping_fee: Decimal | None = None
    buyer_paid: Decimal | None = None
    payment_method: str | None = None
    shipping_address: str | None = None
    shipping_state: str | None = None
    shipping_city: str | None = None
    shipping_post_code: str | None = None
    shipping_country: str | None = None
    raw_order: dict[str, Any] = field(default_factory=dict)
    raw_items: list[dict[str, Any]] = field(default_factory=list)


class MarketplaceClient(Protocol):
    """What the order domain needs from any marketplace."""

    marketplace: str

    async def fetch_order(self, order_id: str) -> FetchedOrder:
        """The order with all its items, as the marketplace sees it now."""
        ...


class CancelFlowProtocol(Protocol):
    """A marketplace's way to cancel (see ``app.cancellations``): what it would allow, and
    doing it through a ``CancelRun`` that records every step."""

    marketplace: str

    async def options(self, run: Any, item_ids: list[str] | None) -> Any: ...

    async def run(self, run: Any) -> Any: ...
