from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampedMixin


class MarketplaceAccount(TimestampedMixin, Base):
    """A seller's connection to one marketplace, with the credentials we call it with."""

    __tablename__ = "marketplace_accounts"
    __table_args__ = (UniqueConstraint("marketplace", "seller_id", "country"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    marketplace: Mapped[str] = mapped_column(String(32), nullable=False)
    seller_id: Mapped[str] = mapped_column(String(64), nullable=False)
    country: Mapped[str] = mapped_column(String(8), nullable=False)
    access_token: Mapped[str] = mapped_column(Text, nullable=False)
    refresh_token: Mapped[str] = mapped_column(Text, nullable=False)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    needs_reauth: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reauth_reason: Mapped[str | None] = mapped_column(Text)
