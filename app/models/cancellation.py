from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampedMixin


class CancellationStatus(enum.StrEnum):
    pending = "pending"  # intent recorded; the marketplace may or may not have been called
    processing = "processing"  # accepted by the marketplace, final result not known yet
    succeeded = "succeeded"
    rejected = "rejected"  # refused: by us before calling, or by the marketplace
    failed = "failed"  # could not be done (credentials, marketplace down for too long)


TERMINAL = frozenset(
    {CancellationStatus.succeeded, CancellationStatus.rejected, CancellationStatus.failed}
)


class Cancellation(TimestampedMixin, Base):
    """One cancel request and everything the marketplace answered: our idempotency record.

    It is written *before* the marketplace is called, so that a retry after a crash finds it
    and asks the marketplace what happened instead of cancelling twice.
    """

    __tablename__ = "cancellations"
    __table_args__ = (
        UniqueConstraint("account_id", "idempotency_key"),
        Index("ix_cancellations_order", "account_id", "external_order_id", "created_at"),
        Index(
            "ix_cancellations_open",
            "status",
            postgresql_where=text("status IN ('pending', 'processing')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("marketplace_accounts.id", ondelete="CASCADE"), nullable=False
    )
    marketplace: Mapped[str] = mapped_column(String(32), nullable=False)
    external_order_id: Mapped[str] = mapped_column(String(64), nullable=False)
    item_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    reason: Mapped[str] = mapped_column(String(32), nullable=False)
    marketplace_reason_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    allow_package_cascade: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    idempotency_key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # Our stable problem code when we refused or failed (None when it succeeded).
    error_code: Mapped[str | None] = mapped_column(String(64))
    marketplace_code: Mapped[str | None] = mapped_column(String(64))
    marketplace_message: Mapped[str | None] = mapped_column(Text)
    cancelled_item_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    # Calls to the marketplace's cancel endpoint: above zero, a retry must check state first.
    cancel_calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
