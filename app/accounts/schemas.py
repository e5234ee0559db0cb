from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, SecretStr

from app.kit.schemas import Schema

Country = Literal["sg", "my", "vn", "th", "ph", "id"]


class AccountCreate(Schema):
    marketplace: Literal["lazada"] = Field(description="Only `lazada` for now.")
    seller_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.-]+$")
    country: Country
    access_token: SecretStr = Field(min_length=1, max_length=2048)
    refresh_token: SecretStr = Field(min_length=1, max_length=2048)
    access_token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "marketplace": "lazada",
                    "seller_id": "200549968600",
                    "country": "vn",
                    "access_token": "<access token from /auth/token/create>",
                    "refresh_token": "<refresh token from /auth/token/create>",
                    "access_token_expires_at": "2026-12-23T00:00:00Z",
                }
            ]
        }
    }


class Account(Schema):
    """A seller connection. Tokens are never returned."""

    id: uuid.UUID
    marketplace: str
    seller_id: str
    country: str
    needs_reauth: bool = Field(
        description="True when the marketplace refused our refresh token: the seller must "
        "authorise the app again."
    )
    reauth_reason: str | None
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
