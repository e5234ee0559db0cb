from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Double, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class RateLimitBucket(Base):
    """One token bucket shared by every process: a seller account's calls to its marketplace
    (``lazada:account:<uuid>``) or an app's (``lazada:app``). Only
    ``app/integrations/ratelimit/repository.py`` reads and writes it, one statement at a time.

    Unlogged: every marketplace call updates a row, and a crash of Postgres losing the table
    only refills the buckets (they are created again, full, on first use), so neither the WAL
    nor a flush at each commit is worth paying for.
    """

    __tablename__ = "rate_limit_buckets"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double, nullable=False)
    # When ``tokens`` was computed; after a hold, when the hold ends (refilling starts then).
    refilled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # No call before this: the marketplace answered "slow down" to some process.
    held_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
