"""The sandbox's whole world, per app instance.

Every method here is synchronous: handlers call them between awaits, so on a single event loop
no request ever sees another one's change half-done, and no lock is needed.
"""

from __future__ import annotations

import random
import secrets
import zlib
from datetime import UTC, datetime

from app.sandbox.lazada.errors import LazadaError
from app.sandbox.lazada.models import (
    COUNTRY_NAME,
    PACKAGED_STATUSES,
    Address,
    CallCounters,
    Clock,
    Faults,
    Item,
    Order,
    Seller,
    Token,
)
from app.sandbox.lazada.schemas import (
    AddressIn,
    BulkOrdersIn,
    ItemIn,
    OrderIn,
    SellerIn,
    StatusIn,
)

AUTH_CODE_TTL_S = 30 * 60  # "The auth code is valid for 30 minutes and can be used once"


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


class SandboxState:
    def __init__(self, *, app_key: str, app_secret: str, webhook_url: str | None) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self._initial_webhook_url = webhook_url
        self.clock = Clock()
        self.rng = random.Random()
        self.reset()

    def reset(self) -> None:
        """Forget everything except what the factory was given (credentials and webhook URL)."""
        self.webhook_url: str | None = self._initial_webhook_url
        self.sellers: dict[str, Seller] = {}
        self.access_tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.auth_codes: dict[str, Token] = {}
        # order_id is unique per store only (GetOrder guide 121327), hence the seller in the key.
        self.orders: dict[tuple[str, int], Order] = {}
        self._used_ids: set[int] = set()
        self.faults = Faults()
        self.calls = CallCounters()
        self.clock.offset_s = 0.0

    # --- ids and time -------------------------------------------------------------------------

    def new_id(self) -> int:
        """A fresh 15-digit id, the size of real Lazada order and order-line ids."""
        while True:
            candidate = self.rng.randrange(10**14, 10**15)
            if candidate not in self._used_ids:
                self._used_ids.add(candidate)
                return candidate

    def now_s(self) -> int:
        return int(self.clock.now())

    def touch(self, order: Order) -> int:
        """Advance the order's clock by at least a second: Lazada's dates have 1 s resolution,
        so without this two quick changes would carry the same ``updated_at``."""
        order.updated_at = max(self.now_s(), order.updated_at + 1)
        return order.updated_at

    # --- sellers and tokens -------------------------------------------------------------------

    def upsert_seller(self, spec: SellerIn) -> tuple[Seller, Token, Token]:
        seller = Seller(
            seller_id=spec.seller_id,
            country=spec.country,
            user_id=spec.user_id or f"1{spec.seller_id}",
            short_code=spec.short_code or f"{spec.country.upper()}{spec.seller_id[-6:]}",
            account=f"seller{spec.seller_id}@sandbox.lazada.invalid",
            access_token_ttl_s=spec.access_token_ttl_s,
            refresh_token_ttl_s=spec.refresh_token_ttl_s,
        )
        self.sellers[seller.seller_id] = seller
        refresh_expires_at = self.clock.now() + spec.refresh_token_ttl_s
        access, refresh = self._issue(
            seller, refresh_expires_at, spec.access_token, spec.refresh_token
        )
        return seller, access, refresh

    def _issue(
        self,
        seller: Seller,
        refresh_expires_at: float,
        access_value: str | None = None,
        refresh_value: str | None = None,
    ) -> tuple[Token, Token]:
        access = Token(
            value=access_value or "50000" + secrets.token_hex(27),
            seller_id=seller.seller_id,
            expires_at=self.clock.now() + seller.access_token_ttl_s,
        )
        refresh = Token(
            value=refresh_value or "50001" + secrets.token_hex(27),
            seller_id=seller.seller_id,
            expires_at=refresh_expires_at,
        )
        self.access_tokens[access.value] = access
        self.refresh_tokens[refresh.value] = refresh
        return access, refresh

    def seller_of(self, params: dict[str, str]) -> str | None:
        """The seller a call is made for, by the token it carries, valid or not (None: no
        token we issued)."""
        token = self.access_tokens.get(params.get("access_token", "")) or self.refresh_tokens.get(
            params.get("refresh_token", "")
        )
        return token.seller_id if token is not None else None

    def seller_for_access_token(self, value: str) -> Seller:
        token = self.access_tokens.get(value)
        if token is None or not token.valid_at(self.clock.now()):
            raise LazadaError(
                "IllegalAccessToken", "The specified access token is invalid or expired"
            )
        return self.sellers[token.seller_id]

    def refresh(self, value: str) -> tuple[Seller, Token, Token]:
        """Rotate both tokens; the refresh token keeps its original expiry (docId 108260)."""
        old = self.refresh_tokens.get(value)
        if self.faults.refuse_refresh or old is None or not old.valid_at(self.clock.now()):
            raise LazadaError(
                "IllegalRefreshToken", "The specified refresh token is invalid or expired"
            )
        del self.refresh_tokens[value]
        for token in self.access_tokens.values():
            if token.seller_id == old.seller_id:
                token.revoked = True
        seller = self.sellers[old.seller_id]
        access, refresh = self._issue(seller, old.expires_at)
        return seller, access, refresh

    def new_auth_code(self, seller_id: str) -> str:
        if seller_id not in self.sellers:
            raise NotFound(f"unknown seller {seller_id}")
        code = f"0_{secrets.randbelow(10**6)}_{secrets.token_urlsafe(18)}"
        self.auth_codes[code] = Token(code, seller_id, self.clock.now() + AUTH_CODE_TTL_S)
        return code

    def exchange_code(self, code: str) -> tuple[Seller, Token, Token]:
        grant = self.auth_codes.pop(code, None)  # single use, even when it turns out expired
        if grant is None or not grant.valid_at(self.clock.now()):
            raise LazadaError("InvalidCode", "Invalid authorization code")
        seller = self.sellers[grant.seller_id]
        return (seller, *self._issue(seller, self.clock.now() + seller.refresh_token_ttl_s))

    def expire_all_access_tokens(self) -> int:
        for token in self.access_tokens.values():
            token.revoked = True
        return len(self.access_tokens)

    # --- orders -------------------------------------------------------------------------------

    def find_order(self, order_id: int, seller_id: str | None = None) -> Order:
        """An order by id; ``seller_id`` is needed only when two stores share the id."""
        if seller_id is not None:
            order = self.orders.get((seller_id, order_id))
            if order is None:
                raise NotFound(f"seller {seller_id} has no order {order_id}")
            return order
        matches = [o for (_, oid), o in self.orders.items() if oid == order_id]
        if not matches:
            raise NotFound(f"no order {order_id}")
        if len(matches) > 1:
            raise Conflict(f"order {order_id} exists for several sellers; pass seller_id")
        return matches[0]

    def seller_orders(self, seller_id: str) -> list[Order]:
        return [o for (sid, _), o in self.orders.items() if sid == seller_id]

    def create_order(self, spec: OrderIn) -> Order:
        seller = self.sellers.get(spec.seller_id)
        if seller is None:
            raise NotFound(f"unknown seller {spec.seller_id}")
        order_id = spec.order_id if spec.order_id is not None else self.new_id()
        if (seller.seller_id, order_id) in self.orders:
            raise Conflict(f"seller {seller.seller_id} already has order {order_id}")
        self._used_ids.add(order_id)
        now = self.now_s()
        created = now if spec.created_at is None else int(_as_utc(spec.created_at).timestamp())
        address_in = spec.address or AddressIn()
        address = Address(
            **address_in.model_dump(exclude={"country"}),
            country=address_in.country or COUNTRY_NAME[seller.country],
        )
        order = Order(
            seller_id=seller.seller_id,
            order_id=order_id,
            buyer_id=spec.buyer_id or str(self.rng.randrange(10**11, 10**12)),
            created_at=created,
            updated_at=created,
            price=0.0,
            voucher=spec.voucher,
            shipping_fee=spec.shipping_fee,
            payment_method=spec.payment_method,
            address=address,
            date_format=spec.date_format,
            extra_attributes=spec.extra_attributes,
        )
        for line in spec.items:
            for unit in range(line.quantity):
                explicit_id = line.order_item_id if unit == 0 else None
                order.items.append(self._new_item(order, line, spec.status, explicit_id))
        order.price = (
            spec.price if spec.price is not None else sum(i.item_price for i in order.items)
        )
        self.orders[(seller.seller_id, order_id)] = order
        return order

    def create_orders_bulk(self, spec: BulkOrdersIn) -> list[Order]:
        """``count`` orders with ``items_per_order`` items each, their creation (and update)
        times spread evenly over the given range."""
        if spec.seller_id not in self.sellers:
            raise NotFound(f"unknown seller {spec.seller_id}")
        now = self.now_s()
        first = now if spec.created_at_from is None else _epoch(spec.created_at_from)
        last = now if spec.created_at_to is None else _epoch(spec.created_at_to)
        if last < first:
            raise Conflict("created_at_to is before created_at_from")
        lines = [ItemIn(sku=f"BULK-{n}") for n in range(spec.items_per_order)]
        step = (last - first) / max(spec.count - 1, 1)
        created = []
        for index in range(spec.count):
            stamp = datetime.fromtimestamp(round(first + index * step), UTC)
            order_in = OrderIn(
                seller_id=spec.seller_id,
                items=lines,
                status=spec.status,
                created_at=stamp,
                push=False,
            )
            created.append(self.create_order(order_in))
        return created

    def _new_item(
        self, order: Order, line: ItemIn, default_status: str, item_id: int | None
    ) -> Item:
        if item_id is not None:
            if item_id in self._used_ids:
                raise Conflict(f"order_item_id {item_id} is already used")
            self._used_ids.add(item_id)
        status = line.status or default_status
        package_id = line.package_id
        if package_id is None:
            package_id = default_package(order) if status in PACKAGED_STATUSES else ""
        return Item(
            order_item_id=item_id if item_id is not None else self.new_id(),
            status=status,
            name=line.name or f"Sandbox product {line.sku}",
            sku=line.sku,
            shop_sku=line.shop_sku or f"{line.sku}-SHOP",
            sku_id=line.sku_id or str(zlib.crc32(line.sku.encode())),
            product_id=line.product_id or str(zlib.crc32(b"product:" + line.sku.encode())),
            variation=line.variation,
            item_price=line.item_price,
            paid_price=(
                line.paid_price
                if line.paid_price is not None
                else line.item_price - line.voucher_amount
            ),
            voucher_amount=line.voucher_amount,
            shipping_amount=line.shipping_amount,
            tax_amount=line.tax_amount,
            package_id=package_id,
            tracking_code=line.tracking_code,
            shipment_provider=line.shipment_provider,
            created_at=order.created_at,
            updated_at=order.created_at,
        )

    def set_status(self, order: Order, change: StatusIn) -> list[Item]:
        """Move items to any status: Lazada's full state machine is undocumented, so the sandbox
        lets tests drive any transition, including "backwards" ones."""
        by_id = {item.order_item_id: item for item in order.items}
        wanted = change.item_ids if change.item_ids is not None else list(by_id)
        unknown = [i for i in wanted if i not in by_id]
        if unknown:
            raise NotFound(f"order {order.order_id} has no items {unknown}")
        moved = [by_id[i] for i in dict.fromkeys(wanted)]
        stamp = self.touch(order)
        for item in moved:
            item.status = change.status
            item.updated_at = stamp
            if change.package_id is not None:
                item.package_id = change.package_id
            elif not item.package_id and change.status in PACKAGED_STATUSES:
                item.package_id = default_package(order)
            for name in ("reason", "reason_detail", "cancel_return_initiator"):
                if (value := getattr(change, name)) is not None:
                    setattr(item, name, value)
            if change.tracking_code is not None:
                item.tracking_code = change.tracking_code
            if change.shipment_provider is not None:
                item.shipment_provider = change.shipment_provider
        return moved


def default_package(order: Order) -> str:
    """Lazada package ids look like ``FP`` plus digits; one package per order by default."""
    return f"FP{order.order_id}"


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch(moment: datetime) -> int:
    return int(_as_utc(moment).timestamp())
