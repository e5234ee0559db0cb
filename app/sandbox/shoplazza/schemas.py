"""Request bodies of the Shoplazza sandbox's ``/_sandbox`` control surface."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.sandbox.shoplazza.models import (
    DEFAULT_SCOPES,
    FINANCIAL_STATUSES,
    FulfillmentStatus,
    OrderStatus,
)

# Shoplazza has no "pending" financial status; tests naturally say it, so it means "waiting".
FINANCIAL_ALIASES = {"pending": "waiting", "unpaid": "waiting"}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShopIn(_In):
    shop_domain: str = Field(min_length=1)
    access_token: str | None = Field(None, min_length=1)
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))


class LineItemIn(_In):
    title: str = "Sandbox product"
    variant_title: str = ""
    sku: str = "SKU-1"
    quantity: int = Field(1, ge=1)
    price: Decimal = Field(Decimal("10.00"), ge=0)
    product_id: str | None = None
    variant_id: str | None = None


def _financial(value: str | None) -> str | None:
    if value is None:
        return None
    value = FINANCIAL_ALIASES.get(value, value)
    if value not in FINANCIAL_STATUSES:
        raise ValueError(f"financial_status must be one of {', '.join(FINANCIAL_STATUSES)}")
    return value


class OrderIn(_In):
    shop_domain: str = Field(min_length=1)
    id: str | None = Field(None, min_length=1)
    number: str | None = Field(None, min_length=1)
    # Defaults: "waiting" (unpaid); status follows the payment ("placed" once paid, else
    # "opened"); fulfillment "waiting" when paid, else "initialled".
    financial_status: str = "waiting"
    status: OrderStatus | None = None
    fulfillment_status: FulfillmentStatus | None = None
    line_items: list[LineItemIn] = Field(default_factory=lambda: [LineItemIn()], min_length=1)
    currency: str = Field("USD", min_length=3, max_length=3)
    total_price: Decimal | None = Field(None, ge=0)
    note: str = ""
    cancel_reason: str | None = None

    _check_financial = field_validator("financial_status")(_financial)


class OrderPatchIn(_In):
    """Moves an order to any state, as the merchant or the buyer would in the real shop."""

    status: OrderStatus | None = None
    financial_status: str | None = None
    fulfillment_status: FulfillmentStatus | None = None

    _check_financial = field_validator("financial_status")(_financial)


class FaultsIn(_In):
    """A partial update: only the fields sent change."""

    latency_ms: int | None = Field(None, ge=0)
    fail_next: int | None = Field(None, ge=0)
    fail_status: Literal[500, 503] | None = None
    timeout_next: int | None = Field(None, ge=0)
    hang_ms: int | None = Field(None, ge=0)
    timeout_after_commit: bool | None = None
    drop_after_commit_next: int | None = Field(None, ge=0)
    drop_mode: Literal["close", "500"] | None = None
    rate_limit: bool | None = None
    rate_limit_per_s: float | None = Field(None, gt=0)
    rate_limit_burst: int | None = Field(None, ge=1)
