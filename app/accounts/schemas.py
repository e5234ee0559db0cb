from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr

from app.kit.schemas import Schema
from app.kit.time import Moment

Country = Literal["sg", "my", "vn", "th", "ph", "id"]
NeweggSite = Literal["us", "b2b", "ca"]


def _header_safe(value: SecretStr) -> SecretStr:
    """Credentials travel in HTTP headers or query strings: visible ASCII only."""
    if not all(33 <= ord(c) <= 126 for c in value.get_secret_value()):
        raise ValueError("must be visible ASCII characters (no spaces or control characters)")
    return value


Secret = Annotated[SecretStr, Field(min_length=1, max_length=2048), AfterValidator(_header_safe)]


class LazadaAccountCreate(Schema):
    marketplace: Literal["lazada"]
    seller_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.-]+$")
    country: Country
    access_token: Secret
    refresh_token: Secret
    access_token_expires_at: Moment | None = None
    refresh_token_expires_at: Moment | None = None


class ShoplazzaAccountCreate(Schema):
    marketplace: Literal["shoplazza"]
    shop_domain: str = Field(
        min_length=3,
        max_length=255,
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
        examples=["acme.myshoplaza.com"],
    )
    access_token: Secret = Field(description="The shop's Access-Token (needs write_order).")


class NeweggAccountCreate(Schema):
    marketplace: Literal["newegg"]
    seller_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")
    site: NeweggSite = Field(description="us: Newegg.com, b2b: NeweggBusiness, ca: Newegg.ca")
    api_key: Secret = Field(description="Sent as the Authorization header.")
    secret_key: Secret = Field(description="Sent as the SecretKey header.")


AccountCreate = Annotated[
    LazadaAccountCreate | ShoplazzaAccountCreate | NeweggAccountCreate,
    Field(discriminator="marketplace"),
]

ACCOUNT_EXAMPLES = {
    "lazada": {
        "summary": "Lazada seller",
        "value": {
            "marketplace": "lazada",
            "seller_id": "200549968600",
            "country": "vn",
            "access_token": "<access token from /auth/token/create>",
            "refresh_token": "<refresh token from /auth/token/create>",
            "access_token_expires_at": "2026-12-23T00:00:00Z",
        },
    },
    "shoplazza": {
        "summary": "Shoplazza shop",
        "value": {
            "marketplace": "shoplazza",
            "shop_domain": "acme.myshoplaza.com",
            "access_token": "<private app access token>",
        },
    },
    "newegg": {
        "summary": "Newegg seller",
        "value": {
            "marketplace": "newegg",
            "seller_id": "A006",
            "site": "us",
            "api_key": "<api key>",
            "secret_key": "<secret key>",
        },
    },
}


class TokensUpdate(Schema):
    """New tokens after the seller authorised the app again (Lazada's /auth/token/create)."""

    access_token: Secret
    refresh_token: Secret
    access_token_expires_at: Moment | None = None
    refresh_token_expires_at: Moment | None = None


class Account(Schema):
    """A seller connection. Credentials are never returned."""

    id: uuid.UUID
    marketplace: str = Field(examples=["lazada"])
    seller_id: str = Field(description="Lazada/Newegg seller id; the shop domain for Shoplazza.")
    country: str | None = Field(description="Lazada only.")
    site: str | None = Field(description="Newegg only.")
    needs_reauth: bool = Field(
        description="True when the account's work is paused until it is connected again: the "
        "marketplace refused our refresh token, or the stored credentials decrypt with none of "
        "the keys in ORDERSYNC_ENCRYPTION_KEYS (`reauth_reason` says which, and what to do)."
    )
    reauth_reason: str | None
    access_token_expires_at: datetime | None
    refresh_token_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
