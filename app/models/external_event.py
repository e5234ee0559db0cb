from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class EventState(enum.StrEnum):
    pending = "pending"  # stored, its work not done yet
    processed = "processed"  # the work it caused has committed
    failed = "failed"  # the work gave up; replayable
    unroutable = "unroutable"  # no account matches its seller
    ignored = "ignored"  # a message type we store but do not act on


class ExternalEvent(Base):
    """The webhook inbox: every push we acknowledged, exactly once per dedupe key."""

    __tablename__ = "external_events"
    __table_args__ = (
        UniqueConstraint("source", "dedupe_key"),
        Index("ix_external_events_state_received", "state", "received_at"),
        Index(
            "ix_external_events_pending_order",
            "account_id",
            "external_order_id",
            postgresql_where=text("state = 'pending'"),
        ),
        # An account's pending pushes, oldest first: what its sync job reads.
        Index(
            "ix_external_events_pending_account",
            "account_id",
            "received_at",
            postgresql_where=text("state = 'pending'"),
        ),
        # Its pending pushes waiting for a retry, earliest first: when its sync runs next.
        Index(
            "ix_external_events_pending_retry",
            "account_id",
            "retry_at",
            postgresql_where=text("state = 'pending' AND retry_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    message_type: Mapped[int | None] = mapped_column(Integer)
    seller_id: Mapped[str | None] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(32))
    external_order_id: Mapped[str | None] = mapped_column(String(64))
    external_line_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(64))
    status_update_time: Mapped[int | None] = mapped_column(BigInteger)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("marketplace_accounts.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A pending push whose order failed transiently is not taken again before this.
    retry_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
