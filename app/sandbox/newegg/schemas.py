"""Request bodies of the Newegg sandbox's ``/_sandbox`` control surface."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.sandbox.newegg.errors import SO_MESSAGES
from app.sandbox.newegg.models import STATUS_ALIASES, STATUS_CODE, Fulfillment, Site


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


_STATUS_BY_KEY = {
    name.lower().replace(" ", ""): canonical
    for name, canonical in [*((s, s) for s in STATUS_CODE), *STATUS_ALIASES.items()]
}


def _status(value: str) -> str:
    """Canonical status for any spelling (``voided``, ``Void``, ``Partially Shipped``...)."""
    canonical = _STATUS_BY_KEY.get(value.lower().replace(" ", ""))
    if canonical is None:
        raise ValueError(f"status must be one of {', '.join(STATUS_CODE)}")
    return canonical


def _default_sites() -> list[Site]:
    return ["us"]  # Newegg credentials are per platform


class SellerIn(_In):
    seller_id: str = Field(min_length=1)
    api_key: str | None = Field(None, min_length=1)
    secret_key: str | None = Field(None, min_length=1)
    sites: list[Site] = Field(default_factory=_default_sites, min_length=1)


class ItemIn(_In):
    seller_part_number: str = Field("SKU-1", min_length=1)
    newegg_item_number: str | None = None
    mfr_part_number: str | None = None
    description: str = "Sandbox item"
    quantity: int = Field(1, ge=1)
    unit_price: Decimal = Field(Decimal("10.00"), ge=0)


class OrderIn(_In):
    seller_id: str = Field(min_length=1)
    site: Site = "us"
    order_number: int | None = Field(None, ge=1, le=2147483647)
    status: str = "Unshipped"
    fulfillment: Fulfillment = "seller"
    items: list[ItemIn] = Field(default_factory=lambda: [ItemIn()], min_length=1)
    order_date: datetime | None = None
    shipping_amount: Decimal = Field(Decimal("0.00"), ge=0)
    downloaded: bool = False
    sbn_auto_result: Literal["Success", "Failed"] | None = None
    sbn_polls_before_result: int = Field(0, ge=0)
    # Makes every cancel of this order fail with this SO code (e.g. SO004, SO016).
    reject_cancel_with: str | None = None

    _check_status = field_validator("status")(_status)

    @field_validator("reject_cancel_with")
    @classmethod
    def _known_code(cls, value: str | None) -> str | None:
        if value is not None and value not in SO_MESSAGES:
            raise ValueError(f"unknown SO code {value}")
        return value


class StatusIn(_In):
    """Moves an order to any status (e.g. it ships while a cancellation is pending)."""

    status: str

    _check_status = field_validator("status")(_status)


class SbnResultIn(_In):
    result: Literal["Success", "Failed"]
    error_message: str | None = None


class FaultsIn(_In):
    """A partial update: only the fields sent change (``null`` clears the two overrides)."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(None, ge=0)
    fail_next: int | None = Field(None, ge=0)
    fail_status: Literal[500, 503] | None = None
    timeout_next: int | None = Field(None, ge=0)
    hang_ms: int | None = Field(None, ge=0)
    timeout_after_commit: bool | None = None
    drop_after_commit_next: int | None = Field(None, ge=0)
    drop_mode: Literal["close", "500"] | None = None
    bom: bool | None = None
    rate_limit: bool | None = None
    rate_limit_per_hour: int | None = Field(None, ge=1)
    rate_limit_per_minute: int | None = Field(None, ge=1)
