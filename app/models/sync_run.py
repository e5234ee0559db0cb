from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class SyncRun(Base):
    """One reconciliation or backfill pass over an account's orders, and what it found."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_account_started", "account_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("marketplace_accounts.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # reconcile | backfill
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running|succeeded|failed
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    orders_seen: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    orders_changed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    calls_made: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
