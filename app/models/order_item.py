from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampedMixin
from app.models.order import Money

if TYPE_CHECKING:
    from app.models.order import Order
    from app.models.order_item_status_change import OrderItemStatusChange


class OrderItem(TimestampedMixin, Base):
    """One unit of an order: Lazada lists two identical units as two items."""

    __tablename__ = "order_items"
    __table_args__ = (UniqueConstraint("order_id", "external_item_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
    )
    external_item_id: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(64), nullable=False)
    status_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sku: Mapped[str | None] = mapped_column(String(255))
    shop_sku: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(Text)
    item_price: Mapped[Decimal | None] = mapped_column(Money)
    paid_price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    package_id: Mapped[str | None] = mapped_column(String(64))
    tracking_code: Mapped[str | None] = mapped_column(String(128))
    shipment_provider: Mapped[str | None] = mapped_column(String(128))
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)

    order: Mapped[Order] = relationship(back_populates="items", lazy="raise")
    history: Mapped[list[OrderItemStatusChange]] = relationship(
        back_populates="item", lazy="raise", order_by="OrderItemStatusChange.id"
    )
