"""Newegg Marketplace answers we read (shoplazza_newegg.md B2-B3)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Str = Annotated[str, BeforeValidator(_to_str)]

# Get Order Status: OrderStatusCode.
UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, INVOICED, VOID = 0, 1, 2, 3, 4
# FulfillmentOption: 0 ship by seller, 1 shipped by Newegg (SBN).
SHIPPED_BY_NEWEGG = 1


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CancelResultBody(_Wire):
    order_number: Str = Field(alias="OrderNumber")
    seller_id: Str | None = Field(default=None, alias="SellerID")
    order_status: str = Field(alias="OrderStatus")  # Void, or Processing (SBN)


class CancelResponse(_Wire):
    is_success: Str = Field(alias="IsSuccess")
    result: CancelResultBody = Field(alias="Result")


class OrderStatus(_Wire):
    order_number: Str = Field(alias="OrderNumber")
    status_code: int = Field(alias="OrderStatusCode")
    status_name: str | None = Field(default=None, alias="OrderStatusName")
    fulfillment_option: int | None = Field(default=None, alias="FulfillmentOption")


class SbnResultBody(_Wire):
    order_number: Str | None = Field(default=None, alias="OrderNumber")
    result: str = Field(alias="Result")  # Success, Failed, Processing
    error_message: str | None = Field(default=None, alias="ErrorMessage")


class SbnResult(_Wire):
    is_success: Str = Field(alias="IsSuccess")
    body: SbnResultBody = Field(alias="ResponseBody")
