"""Every way a cancellation can be refused or fail, each with a stable problem ``code``.

The code is stored on the cancellation, so that replaying the same Idempotency-Key answers
with the same problem as the first time.
"""

from __future__ import annotations

from typing import Any

from app.accounts.credentials import CredentialsUnreadable
from app.exceptions import AppError, BadRequest, Conflict, NotFound, UnprocessableEntity


class CancellationNotFound(NotFound):
    code = "cancellation_not_found"
    title = "No such cancellation"


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    title = "Send an Idempotency-Key header (1-255 printable characters)"


class IdempotencyKeyReused(UnprocessableEntity):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"


class ItemsNotCancellable(Conflict):
    code = "items_not_cancellable"
    title = "Some items are not in a status that can be cancelled"


class PackageCascadeRefused(Conflict):
    code = "package_cascade_refused"
    title = "Cancelling these items would cancel other items of the same package"


class AlreadyCancelled(Conflict):
    code = "already_cancelled"
    title = "The order is already cancelled"


class OrderShipped(Conflict):
    code = "order_shipped"
    title = "The order has shipped and can no longer be cancelled"


class MarketplaceRefused(Conflict):
    code = "marketplace_refused"
    title = "The marketplace refused the cancellation"


class RemoteOrderNotFound(NotFound):
    code = "order_not_found_at_marketplace"
    title = "The marketplace does not know this order for this seller"


class UnknownItems(UnprocessableEntity):
    code = "unknown_items"
    title = "Some item ids are not items of this order"


class ReasonNotSupported(UnprocessableEntity):
    code = "reason_not_supported"
    title = "The marketplace cannot express this reason"


class InvalidOrderNumber(UnprocessableEntity):
    code = "invalid_order_number"
    title = "Order number is out of the marketplace's range"


class WholeOrderOnly(UnprocessableEntity):
    code = "whole_order_only"
    title = "This marketplace cancels whole orders only"


class MarketplaceInputRejected(UnprocessableEntity):
    code = "marketplace_rejected_input"
    title = "The marketplace rejected the request's parameters"


class MarketplaceAuthFailed(AppError):
    # 424 Failed Dependency: the account's stored credentials are the problem, something the
    # caller (who registered them) can fix; not an error of ours.
    status_code = 424
    code = "marketplace_auth_failed"
    title = "The marketplace refused this account's credentials"


class MarketplaceDown(AppError):
    status_code = 503
    code = "marketplace_unavailable"
    title = "The marketplace did not answer; nothing was cancelled"


REFUSALS: dict[str, type[AppError]] = {
    cls.code: cls
    for cls in (
        ItemsNotCancellable,
        PackageCascadeRefused,
        AlreadyCancelled,
        OrderShipped,
        MarketplaceRefused,
        RemoteOrderNotFound,
        UnknownItems,
        ReasonNotSupported,
        InvalidOrderNumber,
        WholeOrderOnly,
        MarketplaceInputRejected,
        MarketplaceAuthFailed,
        CredentialsUnreadable,
        MarketplaceDown,
    )
}


class Refusal(Exception):
    """Raised by a flow: the cancellation ends here, as ``rejected`` (or ``failed`` for
    credentials and outages), with the problem the caller will see."""

    def __init__(
        self,
        error: type[AppError],
        detail: str,
        *,
        marketplace_code: str | None = None,
        marketplace_message: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail
        self.marketplace_code = marketplace_code
        self.marketplace_message = marketplace_message
        self.extra = extra or {}

    @property
    def failed(self) -> bool:
        return self.error in (MarketplaceAuthFailed, CredentialsUnreadable, MarketplaceDown)
