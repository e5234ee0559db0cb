"""Request bodies of the ``/_sandbox`` control surface.

Ids are accepted as JSON numbers or strings because test code naturally has both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.sandbox.lazada.models import Country, DateFormat

DEFAULT_ACCESS_TTL_S = 7 * 24 * 3600  # Lazada's lifetime for apps in "Test" status
DEFAULT_REFRESH_TTL_S = 30 * 24 * 3600


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class SellerIn(_In):
    seller_id: str = Field(min_length=1)
    country: Country
    access_token: str | None = None
    refresh_token: str | None = None
    access_token_ttl_s: int = Field(DEFAULT_ACCESS_TTL_S, ge=0)
    refresh_token_ttl_s: int = Field(DEFAULT_REFRESH_TTL_S, ge=0)
    user_id: str | None = None
    short_code: str | None = None


class AuthCodeIn(_In):
    seller_id: str = Field(min_length=1)


class AddressIn(_In):
    first_name: str = "Sandbox"
    last_name: str = "Buyer"
    phone: str = "6590000000"
    phone2: str = ""
    address1: str = "1 Sandbox Road, #01-01"
    address2: str = ""
    address3: str = ""
    address4: str = ""
    address5: str = ""
    city: str = "Central"
    post_code: str = "000001"
    country: str | None = None  # defaults to the seller's country name
    address_district: str = ""


class ItemIn(_In):
    sku: str = Field(min_length=1)
    name: str | None = None
    shop_sku: str | None = None
    sku_id: str | None = None
    product_id: str | None = None
    variation: str = ""
    item_price: float = Field(10.0, ge=0)
    paid_price: float | None = None  # defaults to item_price - voucher_amount
    voucher_amount: float = 0.0
    shipping_amount: float = 0.0
    tax_amount: float = 0.0
    package_id: str | None = None
    tracking_code: str = ""
    shipment_provider: str = ""
    status: str | None = None
    order_item_id: int | None = None
    # Lazada answers one object per unit; quantity expands into that many units.
    quantity: int = Field(1, ge=1, le=100)


class OrderIn(_In):
    seller_id: str = Field(min_length=1)
    order_id: int | None = Field(None, gt=0)
    items: list[ItemIn] = Field(min_length=1)
    status: str = Field("pending", min_length=1)
    price: float | None = None  # defaults to the sum of item prices
    voucher: float = 0.0
    shipping_fee: float = 0.0
    payment_method: str = "COD"
    buyer_id: str | None = None
    address: AddressIn | None = None
    created_at: datetime | None = None  # backdating lets tests exercise created_after windows
    date_format: DateFormat = "lazada"
    extra_attributes: str = '{"TaxInvoiceRequested":false}'
    push: bool = True


class BulkOrdersIn(_In):
    """Many orders at once, never pushed: for pull (reconcile, backfill) tests and benchmarks.
    ``created_at`` (also their ``updated_at``) is spread evenly from ``created_at_from`` to
    ``created_at_to`` (both default to now)."""

    seller_id: str = Field(min_length=1)
    count: int = Field(ge=1, le=100_000)
    items_per_order: int = Field(1, ge=1, le=20)
    status: str = Field("pending", min_length=1)
    pushes: bool = Field(
        False,
        description="Also answer the pushes Lazada would send for them (one body per line, "
        "unsigned), for a load generator to deliver at its own pace.",
    )
    created_at_from: datetime | None = None
    created_at_to: datetime | None = None


class StatusIn(_In):
    status: str = Field(min_length=1)
    item_ids: list[int] | None = None
    push: bool = True
    reason: str | None = None
    reason_detail: str | None = None
    cancel_return_initiator: str | None = None
    package_id: str | None = None
    tracking_code: str | None = None
    shipment_provider: str | None = None


class PushIn(_In):
    body: dict[str, Any] | None = None
    raw: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PushIn:
        if (self.body is None) == (self.raw is None):
            raise ValueError("give exactly one of body or raw")
        return self


class ConfigIn(_In):
    webhook_url: str | None


class FaultsIn(_In):
    """A partial update: only the fields sent are changed."""

    latency_ms: int | None = Field(None, ge=0)
    fail_next: int | None = Field(None, ge=0)
    error_rate: float | None = Field(None, ge=0.0, le=1.0)
    throttle_next: int | None = Field(None, ge=0)
    throttle_code: str | None = Field(None, min_length=1)
    drop_after_commit_next: int | None = Field(None, ge=0)
    expire_access_tokens: bool | None = None
    refuse_refresh: bool | None = None
    duplicate_pushes: bool | None = None
    reverse_pushes: bool | None = None
    push_delay_ms: int | None = Field(None, ge=0)
    max_offset: int | None = Field(None, ge=0)


class ClockIn(_In):
    advance_s: float
