"""What can go wrong when we call a marketplace, split by what to do about it.

``MarketplaceError``
├── ``TransientError``: try again later (backoff with jitter)
│   ├── ``MarketplaceTimeout`` / ``MarketplaceConnectionError``: the call may not have arrived
│   ├── ``RateLimited``: the marketplace asked us to slow down
│   └── ``MarketplaceUnavailable``: 5xx or an unreadable answer
└── ``PermanentError``: retrying the same call gives the same answer
    ├── ``AuthError``: credentials refused (``IllegalAccessToken`` is ``AccessTokenInvalid``)
    ├── ``RemoteNotFound``
    └── ``Rejected``: a business refusal, with the marketplace's own code and message
"""

from __future__ import annotations

from app.metrics import MARKETPLACE_ERRORS


class MarketplaceError(Exception):
    def __init__(
        self,
        message: str,
        *,
        marketplace: str,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.marketplace = marketplace
        self.code = code
        self.retry_after = retry_after
        MARKETPLACE_ERRORS.labels(marketplace, type(self).__name__, code or "").inc()

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"{self.marketplace}{code}: {self.message}"


class TransientError(MarketplaceError):
    pass


class MarketplaceTimeout(TransientError):
    pass


class MarketplaceConnectionError(TransientError):
    pass


class RateLimited(TransientError):
    pass


class MarketplaceUnavailable(TransientError):
    pass


class PermanentError(MarketplaceError):
    pass


class AuthError(PermanentError):
    pass


class AccessTokenInvalid(AuthError):
    """The access token is expired or revoked; a refresh may fix it."""


class RefreshTokenInvalid(AuthError):
    """The refresh token is refused; only the seller re-authorising fixes it."""


class RemoteNotFound(PermanentError):
    pass


class Rejected(PermanentError):
    pass
