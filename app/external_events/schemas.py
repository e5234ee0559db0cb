from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.kit.schemas import Schema


class WebhookEvent(Schema):
    id: int
    source: str = Field(examples=["lazada"])
    message_type: int | None
    seller_id: str | None
    site: str | None
    order_id: str | None = Field(validation_alias="external_order_id")
    order_line_id: str | None = Field(validation_alias="external_line_id")
    status: str | None
    status_update_time: int | None
    account_id: uuid.UUID | None
    state: str = Field(
        description="pending, processed, failed (replayable), unroutable (no matching account; "
        "replayable once the account exists) or ignored (a message type we only store).",
        examples=["processed"],
    )
    attempts: int
    last_error: str | None
    received_at: datetime
    handled_at: datetime | None
    payload: dict[str, Any]
