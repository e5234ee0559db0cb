"""Shoplazza OpenAPI 2022-01 order fields we read (shoplazza_newegg.md A2-A3)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ShoplazzaLineItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    quantity: int | None = None


class ShoplazzaOrder(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    number: str | None = None
    status: str | None = None  # opened, placed, finished, cancelled
    financial_status: str | None = None
    fulfillment_status: str | None = None
    cancel_reason: str | None = None
    canceled_at: str | None = None  # one "l" in 2022-01
    updated_at: str | None = None
    line_items: list[ShoplazzaLineItem] = []

    @property
    def cancelled(self) -> bool:
        """Whether a cancel took effect: unpaid orders become ``cancelled``; paid ones become
        ``finished`` (webhook FAQ), which we tell from an ordinary completion by the cancel
        stamp."""
        if self.status == "cancelled":
            return True
        return self.status == "finished" and bool(self.canceled_at or self.cancel_reason)
