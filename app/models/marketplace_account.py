from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.crypto import EncryptedText
from app.models.base import Base, TimestampedMixin

CREDENTIALS = "credentials"


def _credential() -> Mapped[str | None]:
    return mapped_column(
        EncryptedText(), deferred=True, deferred_group=CREDENTIALS, deferred_raiseload=True
    )


class MarketplaceAccount(TimestampedMixin, Base):
    """A seller's connection to one marketplace, with the credentials we call it with.

    Which columns are set depends on the marketplace: Lazada (``seller_id``, ``country``,
    tokens), Shoplazza (``shop_domain`` as ``seller_id``, ``access_token``), Newegg
    (``seller_id``, ``site``, ``api_key``, ``secret_key``). The credentials are encrypted at
    rest (``app.crypto``): never filter on them, and never read them with raw SQL.

    They are also deferred, and raise when touched without being loaded: only
    ``app.accounts.credentials.load`` decrypts them, for a call to the marketplace. Reading,
    listing and re-connecting an account never do, so a value no configured key decrypts fails
    only the work that needs it, with a problem that says what to do.
    """

    __tablename__ = "marketplace_accounts"
    __table_args__ = (
        Index(
            "uq_marketplace_accounts_identity",
            "marketplace",
            "seller_id",
            text("coalesce(country, site, '')"),
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    marketplace: Mapped[str] = mapped_column(String(32), nullable=False)
    seller_id: Mapped[str] = mapped_column(String(255), nullable=False)
    country: Mapped[str | None] = mapped_column(String(8))
    site: Mapped[str | None] = mapped_column(String(8))
    access_token: Mapped[str | None] = _credential()
    refresh_token: Mapped[str | None] = _credential()
    api_key: Mapped[str | None] = _credential()
    secret_key: Mapped[str | None] = _credential()
    access_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Reconciliation's watermark: orders updated before this were pulled at least once.
    reconciled_through: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    needs_reauth: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    reauth_reason: Mapped[str | None] = mapped_column(Text)
