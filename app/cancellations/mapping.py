"""Marketplace errors → the cancellation's problem, for what the flows do not handle
themselves."""

from __future__ import annotations

from app.cancellations.errors import (
    MarketplaceAuthFailed,
    MarketplaceDown,
    MarketplaceInputRejected,
    MarketplaceRefused,
    Refusal,
    RemoteOrderNotFound,
)
from app.integrations import errors


def refusal_from(exc: errors.MarketplaceError) -> Refusal:
    kind: type[
        MarketplaceAuthFailed
        | MarketplaceDown
        | MarketplaceRefused
        | RemoteOrderNotFound
        | MarketplaceInputRejected
    ]
    if isinstance(exc, errors.AuthError):
        kind = MarketplaceAuthFailed
    elif isinstance(exc, errors.RemoteNotFound):
        kind = RemoteOrderNotFound
    elif isinstance(exc, errors.TransientError):
        kind = MarketplaceDown
    elif exc.code in {"422", "400"}:
        kind = MarketplaceInputRejected
    else:
        kind = MarketplaceRefused
    return Refusal(
        kind,
        f"{exc.marketplace} said: {exc.message}",
        marketplace_code=exc.code,
        marketplace_message=exc.message,
    )
