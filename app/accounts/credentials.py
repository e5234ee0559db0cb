"""Loading an account to call its marketplace with: the one place that decrypts credentials.

A stored credential that decrypts with none of the keys in ``ORDERSYNC_ENCRYPTION_KEYS`` (it
was written under a key since dropped, or by another installation sharing the database) cannot
be used by anything, and retrying does not help: only a person can, by connecting the account
again or by putting the key back. So it is answered as ``CredentialsUnreadable``, a 424 that
names the account and both fixes, and logged once per occurrence with the same; never as a 500,
and never with a value. Work that does not need the credentials (reading, listing,
re-connecting the account, its orders and cancellations) does not decrypt them at all.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app import crypto
from app.accounts.repository import AccountRepository
from app.exceptions import AppError
from app.models import MarketplaceAccount

log = structlog.get_logger(__name__)

# Stored as ``reauth_reason`` on an account whose jobs found its credentials unreadable: that
# pauses its work like a refused refresh token does, until it is re-connected or the worker
# sees the credentials readable again (``AccountService.resume_readable``).
UNREADABLE_REASON = (
    "The stored credentials decrypt with none of the keys in ORDERSYNC_ENCRYPTION_KEYS: "
    "re-connect the account (PUT /v1/accounts/{id}/tokens), or add the key they were written "
    "with to ORDERSYNC_ENCRYPTION_KEYS and restart; paused work resumes by itself."
)


def how_to_fix(account_id: uuid.UUID, marketplace: str | None) -> str:
    key = "add the key they were written with to ORDERSYNC_ENCRYPTION_KEYS and restart"
    if marketplace == "lazada":
        return (
            f"Re-connect the account (PUT /v1/accounts/{account_id}/tokens with the tokens of a "
            f"new authorisation), or {key}."
        )
    # Shoplazza and Newegg credentials cannot be replaced over the API: only the key helps.
    return f"{key[0].upper()}{key[1:]}."


class CredentialsUnreadable(AppError):
    # 424 like MarketplaceAuthFailed: the account's stored credentials are what fails, and
    # callers handle both the same way (the account must be connected again).
    status_code = 424
    code = "credentials_unreadable"
    title = "This account's stored credentials cannot be decrypted"

    account_id: uuid.UUID | None = None

    @classmethod
    def of(cls, account_id: uuid.UUID, marketplace: str | None) -> CredentialsUnreadable:
        error = cls(
            f"The credentials stored for account {account_id} decrypt with none of the keys in "
            f"ORDERSYNC_ENCRYPTION_KEYS. {how_to_fix(account_id, marketplace)}",
            extra={"account_id": str(account_id)},
        )
        error.account_id = account_id
        return error


async def load(
    session: AsyncSession, account_id: uuid.UUID, *, for_update: bool = False
) -> MarketplaceAccount | None:
    """The account with its credentials decrypted (None: no such account); raises
    ``CredentialsUnreadable`` when one of them cannot be, after logging which and what to do."""
    repository = AccountRepository.from_session(session)
    try:
        return await repository.get(account_id, for_update=for_update, with_credentials=True)
    except crypto.SecretUnreadable:
        marketplace = await repository.marketplace_of(account_id)
        log.warning(
            "account.credentials.unreadable",
            account_id=str(account_id),
            marketplace=marketplace,
            fix=how_to_fix(account_id, marketplace),
        )
        raise CredentialsUnreadable.of(account_id, marketplace) from None
