"""The Shoplazza sandbox's whole world, per app instance.

Methods are synchronous: handlers call them between awaits, so on one event loop no request
sees another's change half-done and no lock is needed.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.sandbox.shoplazza.errors import ShoplazzaError
from app.sandbox.shoplazza.models import (
    PAID_FINANCIAL,
    CallCounters,
    Faults,
    LeakyBucket,
    LineItem,
    Order,
    Shop,
)
from app.sandbox.shoplazza.schemas import OrderIn, OrderPatchIn, ShopIn

FIRST_STORE_ID = 633130  # the doc's example order id is 633130-00000004
FIRST_NUMBER = 1001


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


class ShoplazzaState:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        # Wake every request hanging on a timeout fault: a reset must not leave them behind.
        self.release.set()
        self.release = asyncio.Event()
        self.shops: dict[str, Shop] = {}
        self.tokens: dict[str, str] = {}  # access token -> shop domain
        self.orders: dict[str, Order] = {}
        self.buckets: dict[str, LeakyBucket] = {}
        self.faults = Faults()
        self.calls = CallCounters()
        self._next_store_id = FIRST_STORE_ID
        self._last_stamp = datetime.fromtimestamp(0, UTC)

    def now(self) -> datetime:
        """Whole seconds (the rendering has 1 s resolution), strictly increasing so that two
        quick changes never share an ``updated_at``."""
        moment = datetime.now(UTC).replace(microsecond=0)
        moment = max(moment, self._last_stamp + timedelta(seconds=1))
        self._last_stamp = moment
        return moment

    # --- shops ------------------------------------------------------------------------------

    def upsert_shop(self, spec: ShopIn) -> Shop:
        """A new shop, or a new token and scopes for an existing one (its old token stops
        working; its orders stay)."""
        existing = self.shops.get(spec.shop_domain)
        token = spec.access_token or secrets.token_urlsafe(32)
        owner = self.tokens.get(token)
        if owner is not None and owner != spec.shop_domain:
            raise Conflict(f"access token already belongs to {owner}")
        if existing is not None:
            self.tokens.pop(existing.access_token, None)
            existing.access_token = token
            existing.scopes = frozenset(spec.scopes)
            shop = existing
        else:
            shop = Shop(spec.shop_domain, self._next_store_id, token, frozenset(spec.scopes))
            self._next_store_id += 1
            self.shops[shop.domain] = shop
        self.tokens[token] = shop.domain
        return shop

    def shop_for_token(self, token: str) -> Shop | None:
        domain = self.tokens.get(token)
        return None if domain is None else self.shops[domain]

    def take_rate(self, shop: Shop) -> float | None:
        """None if the call fits the shop's bucket, else seconds until it would."""
        if not self.faults.rate_limit:
            return None
        bucket = self.buckets.setdefault(shop.domain, LeakyBucket(last=time.monotonic()))
        return bucket.take(
            time.monotonic(), self.faults.rate_limit_per_s, self.faults.rate_limit_burst
        )

    # --- orders -----------------------------------------------------------------------------

    def create_order(self, spec: OrderIn) -> Order:
        shop = self.shops.get(spec.shop_domain)
        if shop is None:
            raise NotFound(f"unknown shop {spec.shop_domain}")
        seq = shop.next_seq
        order_id = spec.id or f"{shop.store_id}-{seq:08d}"
        if order_id in self.orders:
            raise Conflict(f"order {order_id} already exists")
        shop.next_seq += 1
        paid = spec.financial_status in PAID_FINANCIAL
        now = self.now()
        items = [
            LineItem(
                id=str(uuid.uuid4()),
                product_id=line.product_id or str(uuid.uuid5(uuid.NAMESPACE_OID, line.sku)),
                variant_id=line.variant_id or str(uuid.uuid5(uuid.NAMESPACE_URL, line.sku)),
                title=line.title,
                variant_title=line.variant_title,
                sku=line.sku,
                quantity=line.quantity,
                price=line.price,
            )
            for line in spec.line_items
        ]
        total = spec.total_price
        if total is None:
            total = sum((i.price * i.quantity for i in items), Decimal(0))
        order = Order(
            id=order_id,
            number=spec.number or str(FIRST_NUMBER + seq - 1),
            shop_domain=shop.domain,
            status=spec.status or ("placed" if paid else "opened"),
            financial_status=spec.financial_status,
            fulfillment_status=spec.fulfillment_status or ("waiting" if paid else "initialled"),
            currency=spec.currency.upper(),
            total_price=total,
            line_items=items,
            created_at=now,
            updated_at=now,
            placed_at=now if paid else None,
            note=spec.note,
            cancel_reason=spec.cancel_reason,
        )
        if order.status == "cancelled":
            order.canceled_at = now
        self.orders[order.id] = order
        return order

    def find_order(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        return order

    def patch_order(self, order: Order, patch: OrderPatchIn) -> Order:
        changes = patch.model_dump(exclude_none=True)
        for name, value in changes.items():
            setattr(order, name, value)
        if changes:
            order.updated_at = self.now()
            if patch.status == "cancelled" and order.canceled_at is None:
                order.canceled_at = order.updated_at
            if patch.financial_status in PAID_FINANCIAL and order.placed_at is None:
                order.placed_at = order.updated_at
        return order

    def shop_orders(self, shop: Shop) -> list[Order]:
        return [o for o in self.orders.values() if o.shop_domain == shop.domain]

    def cancel(self, order: Order, reason: str | None) -> Order:
        """Shoplazza's cancel, as far as the docs say (see ``api`` for the choices)."""
        if order.status in ("cancelled", "finished"):
            raise ShoplazzaError(406, f"Order {order.id} has been {order.status}, cannot cancel")
        if order.fulfillment_status not in ("initialled", "waiting"):
            raise ShoplazzaError(
                406,
                f"Order {order.id} cannot be cancelled, fulfillment status is "
                f"{order.fulfillment_status}",
            )
        now = self.now()
        order.cancel_reason = reason or ""
        order.canceled_at = now
        order.updated_at = now
        order.fulfillment_status = "cancelled"
        if order.financial_status in PAID_FINANCIAL:
            # Webhook FAQ: "When a paid order is canceled, its status changes to 'finished'."
            order.status = "finished"
            order.financial_status = "refunded"
            order.total_refund_price = order.total_price
        else:
            order.status = "cancelled"
            order.financial_status = "cancelled"
        return order
