"""API keys as callers and operators see them, and the one list of scopes."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.kit.schemas import Schema
from app.kit.text import StorableText


class Scope(enum.StrEnum):
    """What a key may do. Every /v1 route declares exactly one of these."""

    orders_read = "orders:read"  # orders, cancel options, cancellation records
    orders_cancel = "orders:cancel"  # POST .../cancellations
    accounts_read = "accounts:read"
    accounts_write = "accounts:write"  # connect a seller (sends marketplace credentials)
    events_read = "events:read"  # the webhook inbox
    events_replay = "events:replay"
    api_keys_admin = "api-keys:admin"  # create, list and revoke keys over the API


ALL_SCOPES = frozenset(Scope)


class ApiKeyCreate(Schema):
    name: Annotated[str, StorableText(min_length=1, max_length=100)] = Field(examples=["erp-prod"])
    scopes: list[Scope] = Field(min_length=1, examples=[["orders:read", "orders:cancel"]])


class ApiKey(Schema):
    """A key without its secret: only a hash of it is stored."""

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself. Shown this once: it cannot be shown again.")
