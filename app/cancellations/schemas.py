from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from annotated_types import MaxLen
from pydantic import BeforeValidator, Field, StringConstraints, field_validator

from app.kit.schemas import Schema
from app.kit.text import StorableText

MAX_ITEMS = 200
# Item ids are the marketplace's numbers (Lazada's order_item_id): 1-20 ASCII digits.
ITEM_ID_PATTERN = r"^[0-9]{1,20}$"
ItemId = Annotated[str, StringConstraints(max_length=20, pattern=ITEM_ID_PATTERN)]


def _split_commas(value: Any) -> Any:
    """``?item_ids=1,2&item_ids=3`` means ``["1", "2", "3"]``."""
    if not isinstance(value, list):
        return value
    return [
        part for item in value for part in (item.split(",") if isinstance(item, str) else [item])
    ]


# Item ids in a query parameter: repeated, or comma-separated, at most MAX_ITEMS in all.
ItemIdsQuery = Annotated[list[ItemId], BeforeValidator(_split_commas), MaxLen(MAX_ITEMS)]


class CancelReason(enum.StrEnum):
    out_of_stock = "out_of_stock"
    customer_request = "customer_request"
    pricing_error = "pricing_error"
    unable_to_fulfill = "unable_to_fulfill"
    sourcing_delay = "sourcing_delay"
    other = "other"


class CancellationCreate(Schema):
    item_ids: list[ItemId] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ITEMS,
        description="Items to cancel (Lazada). Omit to cancel every item still cancellable "
        "(after a partial cancellation: the rest); items already cancelled or past "
        "ready_to_ship are left as they are (`details.skipped_items`), and only an order with "
        "none left is refused (409). Shoplazza and Newegg cancel whole orders only.",
    )
    reason: CancelReason
    marketplace_reason_id: Annotated[str, StorableText(max_length=64)] | None = Field(
        default=None,
        description="Use this marketplace reason instead of mapping `reason` "
        "(a Lazada `reason_id` from cancel-options, or a Newegg code 24/72/73/74).",
    )
    note: Annotated[str, StorableText(max_length=500)] | None = Field(
        default=None,
        description="Stored with the cancellation; Shoplazza also gets it in its free-text "
        "cancel reason.",
    )
    allow_package_cascade: bool = Field(
        default=False,
        description="Lazada: cancelling a packed item cancels its whole package. Without this, "
        "a request that would take items you did not name is refused with 409.",
    )

    @field_validator("item_ids")
    @classmethod
    def _unique_ids(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"item_ids": ["446156719069495"], "reason": "out_of_stock", "note": "last unit"}
            ]
        }
    }


class Step(Schema):
    name: str = Field(examples=["lazada.cancel_validate"])
    at: datetime
    ok: bool
    detail: str | None = None


class Cancellation(Schema):
    id: uuid.UUID
    account_id: uuid.UUID
    marketplace: str
    order_id: str = Field(validation_alias="external_order_id")
    item_ids: list[str]
    reason: str
    marketplace_reason_id: str | None
    note: str | None
    status: str = Field(
        description="succeeded, processing (accepted; the marketplace decides later), failed, "
        "rejected, or pending (being executed now).",
        examples=["succeeded"],
    )
    error_code: str | None = Field(description="Our problem code when rejected or failed.")
    marketplace_code: str | None
    marketplace_message: str | None = Field(
        description="What the marketplace said, e.g. Lazada's tip_content."
    )
    cancelled_item_ids: list[str] = Field(
        description="Items the marketplace cancelled (a package cascade adds to item_ids)."
    )
    steps: list[Step]
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class ReasonOption(Schema):
    reason: CancelReason | None = Field(description="Our reason that maps to it, if any.")
    marketplace_reason_id: str
    name: str


class ItemOption(Schema):
    order_item_id: str
    status: str
    cancellable: bool
    package_id: str | None = None


class CancelOptions(Schema):
    marketplace: str
    order_id: str
    cancellable: bool
    blocked_reason: str | None = Field(description="Why not, when cancellable is false.")
    free_text_reason: bool = Field(description="Shoplazza: any reason text is accepted.")
    reasons: list[ReasonOption]
    items: list[ItemOption]
    also_cancels: list[str] = Field(
        description="Items the cancellation would take with it: other items of the same "
        "Lazada package, or every item for whole-order marketplaces."
    )
    whole_order_only: bool
    tip: str | None = Field(description="Lazada's tip_content (stock may be set to 0).")
