"""The Newegg sandbox's whole world, per app instance.

Methods are synchronous: handlers call them between awaits, so on one event loop no request
sees another's change half-done and no lock is needed.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta

from app.sandbox.newegg.errors import throttled
from app.sandbox.newegg.formats import now_utc, reset_time
from app.sandbox.newegg.models import (
    ITEM_CANCELLED,
    ITEM_SHIPPED,
    ITEM_UNSHIPPED,
    CallCounters,
    Faults,
    Item,
    Order,
    RateWindow,
    Seller,
)
from app.sandbox.newegg.schemas import OrderIn, SellerIn

FIRST_ORDER_NUMBER = 300_000_001
SBN_FAILED_MESSAGE = (
    "Order void was not successful due to technical issues / order already shipped."
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _item_number(seller_part_number: str) -> str:
    """Newegg seller item numbers look like ``9SIA0060845543``."""
    return f"9SIA{zlib.crc32(seller_part_number.encode()):010d}"


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


class NeweggState:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        # Wake every request hanging on a timeout fault: a reset must not leave them behind.
        self.release.set()
        self.release = asyncio.Event()
        self.sellers: dict[str, Seller] = {}
        self.api_keys: dict[str, str] = {}  # api key -> seller id
        self.orders: dict[int, Order] = {}  # Newegg order numbers are global
        self.windows: dict[tuple[str, str, str], RateWindow] = {}
        self.faults = Faults()
        self.calls = CallCounters()
        self._next_number = FIRST_ORDER_NUMBER

    # --- sellers ----------------------------------------------------------------------------

    def upsert_seller(self, spec: SellerIn) -> Seller:
        """A new seller, or new credentials and sites for an existing one (the old key pair
        stops working; the orders stay)."""
        api_key = spec.api_key or secrets.token_hex(16)
        owner = self.api_keys.get(api_key)
        if owner is not None and owner != spec.seller_id:
            raise Conflict(f"api key already belongs to seller {owner}")
        old = self.sellers.get(spec.seller_id)
        if old is not None:
            self.api_keys.pop(old.api_key, None)
        seller = Seller(
            seller_id=spec.seller_id,
            api_key=api_key,
            secret_key=spec.secret_key or str(uuid.uuid4()).upper(),
            sites=frozenset(spec.sites),
        )
        self.sellers[seller.seller_id] = seller
        self.api_keys[api_key] = seller.seller_id
        return seller

    def seller_for_key(self, api_key: str) -> Seller | None:
        seller_id = self.api_keys.get(api_key)
        return None if seller_id is None else self.sellers[seller_id]

    def take_rate(
        self, seller: Seller, site: str, api: str, limit: int, period_s: int
    ) -> dict[str, str]:
        """Counts the call in its window; the X-RateLimit headers to answer with. Raises the
        429 error when the window is full."""
        now = time.monotonic()
        key = (seller.seller_id, site, api)
        window = self.windows.get(key)
        if window is None or now - window.start >= period_s:
            window = self.windows[key] = RateWindow(start=now)
        ends = now_utc() + timedelta(seconds=window.start + period_s - now)
        full = window.count >= limit
        if not full:
            window.count += 1
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit - window.count),
            "X-RateLimit-ResetTime": reset_time(ends),
        }
        if full:
            raise throttled(headers)
        return headers

    # --- orders -----------------------------------------------------------------------------

    def create_order(self, spec: OrderIn) -> Order:
        seller = self.sellers.get(spec.seller_id)
        if seller is None:
            raise NotFound(f"unknown seller {spec.seller_id}")
        if spec.site not in seller.sites:
            raise Conflict(f"seller {seller.seller_id} does not sell on {spec.site}")
        number = spec.order_number
        if number is None:
            while self._next_number in self.orders:
                self._next_number += 1
            number = self._next_number
        if number in self.orders:
            raise Conflict(f"order {number} already exists")
        items = [
            Item(
                seller_part_number=line.seller_part_number,
                newegg_item_number=line.newegg_item_number or _item_number(line.seller_part_number),
                mfr_part_number=line.mfr_part_number or line.seller_part_number,
                description=line.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in spec.items
        ]
        order = Order(
            order_number=number,
            seller_id=seller.seller_id,
            site=spec.site,
            status="Unshipped",
            fulfillment=spec.fulfillment,
            items=items,
            order_date=_aware(spec.order_date) if spec.order_date else now_utc(),
            shipping_amount=spec.shipping_amount,
            downloaded=spec.downloaded,
            sbn_auto_result=spec.sbn_auto_result,
            sbn_polls_before_result=spec.sbn_polls_before_result,
            reject_cancel_with=spec.reject_cancel_with,
        )
        self.set_status(order, spec.status)
        self.orders[number] = order
        return order

    def find_order(self, number: int) -> Order:
        order = self.orders.get(number)
        if order is None:
            raise NotFound(f"no order {number}")
        return order

    def set_status(self, order: Order, status: str) -> None:
        """Any status, with the items following it (shipped orders ship their items)."""
        order.status = status
        for item in order.items:
            # A partially shipped order has shipped its first line only.
            first = item is order.items[0]
            if status in ("Shipped", "Invoiced") or (status == "PartiallyShipped" and first):
                item.status, item.shipped_qty = ITEM_SHIPPED, item.quantity
            elif status == "Voided":
                item.status, item.shipped_qty = ITEM_CANCELLED, 0
            else:
                item.status, item.shipped_qty = ITEM_UNSHIPPED, 0
        if status == "Voided" and order.voided_at is None:
            order.voided_at = now_utc()
        if status in ("PartiallyShipped", "Shipped", "Invoiced"):
            order.downloaded = True  # "OrderDownloaded becomes True when the order ships"

    def void(self, order: Order, reason_code: int) -> None:
        order.cancel_reason_code = reason_code
        self.set_status(order, "Voided")

    def resolve_sbn(self, order: Order, result: str, error_message: str | None = None) -> None:
        """Ends a pending SBN cancellation: Success voids the order, Failed leaves it as is."""
        request = order.sbn
        if request is None or request.result != "Processing":
            raise Conflict(f"order {order.order_number} has no pending SBN cancellation")
        if result == "Success":
            request.result = "Success"
            self.void(order, request.reason_code)
        else:
            request.result = "Failed"
            request.error_message = error_message or SBN_FAILED_MESSAGE
