from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, TimestampedMixin

if TYPE_CHECKING:
    from app.models.order_item import OrderItem

Money = Numeric(20, 4)


class Order(TimestampedMixin, Base):
    """A marketplace order. Order ids are unique per seller only, hence the account in the key."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "external_order_id"),
        Index("ix_orders_updated_at_id", "updated_at", "id"),
        Index("ix_orders_item_statuses", "item_statuses", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("marketplace_accounts.id", ondelete="CASCADE"), nullable=False
    )
    external_order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    order_number: Mapped[str | None] = mapped_column(String(64))
    item_statuses: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    currency: Mapped[str | None] = mapped_column(String(8))
    price: Mapped[Decimal | None] = mapped_column(Money)
    voucher: Mapped[Decimal | None] = mapped_column(Money)
    shipping_fee: Mapped[Decimal | None] = mapped_column(Money)
    buyer_paid: Mapped[Decimal | None] = mapped_column(Money)
    payment_method: Mapped[str | None] = mapped_column(String(64))
    shipping_address: Mapped[str | None] = mapped_column(Text)
    shipping_state: Mapped[str | None] = mapped_column(String(128))
    shipping_city: Mapped[str | None] = mapped_column(String(128))
    shipping_post_code: Mapped[str | None] = mapped_column(String(32))
    shipping_country: Mapped[str | None] = mapped_column(String(64))
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    marketplace_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    raw_order: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    raw_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", lazy="raise", order_by="OrderItem.id"
    )
