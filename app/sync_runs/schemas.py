from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from app.kit.schemas import Schema
from app.kit.time import Moment, utc_now


class BackfillRequest(Schema):
    since: Moment = Field(
        description="Load every order updated since this moment (a date-time; UTC when it "
        "carries no offset).",
        examples=["2026-01-01T00:00:00Z"],
    )

    @field_validator("since")
    @classmethod
    def _in_the_past(cls, value: datetime) -> datetime:
        if value >= utc_now():
            raise ValueError("must be in the past")
        return value


class SyncRun(Schema):
    """One pull of an account's orders from its marketplace: a periodic reconcile or a
    backfill, the window it covered and what it found."""

    id: int
    account_id: uuid.UUID
    kind: str = Field(examples=["backfill"], description="`reconcile` or `backfill`.")
    status: str = Field(
        examples=["running"],
        description="`queued` (waiting for the worker, or paused until the seller authorises "
        "again), `running`, `succeeded`, `failed`.",
    )
    window_start: datetime = Field(description="Orders updated from here...")
    window_end: datetime | None = Field(description="...to here (when the run started).")
    orders_seen: int = Field(description="Orders the marketplace listed in the window.")
    orders_changed: int = Field(
        description="Orders new to us, or with an item whose status changed."
    )
    calls_made: int = Field(description="Marketplace API calls, retries included.")
    error: str | None
    started_at: datetime
    finished_at: datetime | None
