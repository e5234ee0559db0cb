"""Cancelling on Lazada, per item (Order Cancellation guide, seed 000):
GetOrderItems → OrderCancelValidate → InitReverseOrderCancel, then a re-sync.

A request without ``item_ids`` cancels "the rest": every item still cancellable, leaving the
ones already cancelled (say, by an earlier partial cancellation) or past ready_to_ship as they
are (``details.skipped_items``). Only when no item is left is it refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from app.accounts.credentials import CredentialsUnreadable
from app.cancellations.errors import (
    AlreadyCancelled,
    ItemsNotCancellable,
    MarketplaceAuthFailed,
    PackageCascadeRefused,
    ReasonNotSupported,
    Refusal,
    UnknownItems,
)
from app.cancellations.run import CancelRun, Outcome
from app.cancellations.schemas import CancelOptions, CancelReason, ItemOption, ReasonOption
from app.db import transaction
from app.integrations.lazada.client import LazadaClient
from app.integrations.lazada.jobs import enqueue_order_sync
from app.integrations.lazada.schemas import LazadaOrderItem, LazadaReasonOption
from app.integrations.lazada.tokens import (
    AccountNeedsReauth,
    CredentialsPaused,
    with_fresh_token,
)
from app.orders.statuses import ItemStatus

log = structlog.get_logger(__name__)

T = TypeVar("T")

# "Only order items with the Pending ~ Ready To Ship status can be cancelled."
CANCELLABLE = frozenset(
    {
        ItemStatus.pending,
        ItemStatus.packed,
        ItemStatus.repacked,
        ItemStatus.ready_to_ship_pending,
        ItemStatus.ready_to_ship,
    }
)
# A packed item cancels its whole package ("other order items in the same package will also
# be cancelled").
PACKAGED = CANCELLABLE - {ItemStatus.pending}
CANCELLED = frozenset({ItemStatus.canceled, ItemStatus.cancelled})

# Reason ids differ per country, so we match Lazada's reason names.
_KEYWORDS: dict[CancelReason, tuple[str, ...]] = {
    CancelReason.out_of_stock: ("out of stock",),
    CancelReason.pricing_error: ("price", "pricing"),
    CancelReason.sourcing_delay: ("sourcing",),
    CancelReason.customer_request: ("customer",),
    CancelReason.unable_to_fulfill: ("fulfil",),
    CancelReason.other: (),
}


def our_reason(option: LazadaReasonOption) -> CancelReason | None:
    name = option.reason_name.lower()
    for reason, words in _KEYWORDS.items():
        if any(word in name for word in words):
            return reason
    return None


def pick_reason(
    reason: str, marketplace_reason_id: str | None, options: list[LazadaReasonOption]
) -> LazadaReasonOption:
    if marketplace_reason_id is not None:
        chosen = [o for o in options if o.reason_id == marketplace_reason_id]
    else:
        chosen = [o for o in options if our_reason(o) == reason]
    if not chosen:
        accepted = sorted({r.value for o in options if (r := our_reason(o)) is not None})
        raise Refusal(
            ReasonNotSupported,
            f"Lazada offers no reason matching '{marketplace_reason_id or reason}' for this "
            f"order. Accepted: {', '.join(accepted)}; or pass marketplace_reason_id.",
            extra={
                "accepted_reasons": accepted,
                "marketplace_reasons": [o.model_dump() for o in options],
            },
        )
    return chosen[0]


# Where a request for "the rest" keeps the items it resolved to, before its first cancel call:
# an attempt after a call whose answer was lost checks those, not what is cancellable by then.
RESOLVED = "resolved_item_ids"


def the_rest(items: list[LazadaOrderItem]) -> list[str]:
    return [item.order_item_id for item in items if item.status in CANCELLABLE]


def nothing_left(order_id: str, items: list[LazadaOrderItem]) -> Refusal:
    """No item of the order can be cancelled any more."""
    statuses = [{"order_item_id": i.order_item_id, "status": i.status} for i in items]
    if items and all(item.status in CANCELLED for item in items):
        return Refusal(
            AlreadyCancelled,
            f"Every item of order {order_id} is already cancelled.",
            extra={"items": statuses},
        )
    return Refusal(
        ItemsNotCancellable,
        f"No item of order {order_id} can be cancelled any more (only pending, packed, "
        "repacked or ready_to_ship items can): "
        + "; ".join(f"{i.order_item_id} is {i.status}" for i in items),
        extra={"items": statuses},
    )


class LazadaCancelFlow:
    marketplace = "lazada"

    async def _call(self, run: CancelRun, call: Callable[[LazadaClient], Awaitable[T]]) -> T:
        try:
            return await with_fresh_token(run.ctx, run.account, call)
        except CredentialsPaused as exc:  # a refresh found them unreadable
            raise Refusal(CredentialsUnreadable, str(exc)) from exc
        except AccountNeedsReauth as exc:
            raise Refusal(MarketplaceAuthFailed, str(exc)) from exc

    async def _items(self, run: CancelRun) -> list[LazadaOrderItem]:
        items, _ = await run.read(
            "lazada.get_order_items",
            lambda: self._call(run, lambda client: client.get_order_items(run.order_id)),
        )
        return items

    @staticmethod
    def _plan(
        items: list[LazadaOrderItem], requested: list[str]
    ) -> tuple[list[str], list[LazadaOrderItem], list[str]]:
        """(unknown ids, items not cancellable, items the package cascade would add)."""
        by_id = {item.order_item_id: item for item in items}
        unknown = [i for i in requested if i not in by_id]
        stuck = [by_id[i] for i in requested if i in by_id and by_id[i].status not in CANCELLABLE]
        packages = {
            by_id[i].package_id
            for i in requested
            if i in by_id and by_id[i].status in PACKAGED and by_id[i].package_id
        }
        cascade = [
            item.order_item_id
            for item in items
            if item.order_item_id not in requested
            and item.package_id in packages
            and item.status in CANCELLABLE
        ]
        return unknown, stuck, cascade

    async def options(self, run: CancelRun, item_ids: list[str] | None) -> CancelOptions:
        items = await self._items(run)
        requested = item_ids or the_rest(items)
        unknown, stuck, cascade = self._plan(items, requested)
        if unknown:
            raise Refusal(UnknownItems, f"Not items of this order: {', '.join(unknown)}.")
        blocked = None
        reasons: list[ReasonOption] = []
        tip = None
        if not requested:
            blocked = nothing_left(run.order_id, items).detail
        elif stuck:
            blocked = "; ".join(f"{i.order_item_id} is {i.status}" for i in stuck)
        else:
            validation = await run.read(
                "lazada.cancel_validate",
                lambda: self._call(run, lambda c: c.validate_cancel(run.order_id, requested)),
            )
            tip = validation.tip_content
            reasons = [
                ReasonOption(
                    reason=our_reason(o), marketplace_reason_id=o.reason_id, name=o.reason_name
                )
                for o in validation.reason_options
            ]
        return CancelOptions(
            marketplace=self.marketplace,
            order_id=run.order_id,
            cancellable=blocked is None,
            blocked_reason=blocked,
            free_text_reason=False,
            reasons=reasons,
            items=[
                ItemOption(
                    order_item_id=i.order_item_id,
                    status=i.status,
                    cancellable=i.status in CANCELLABLE,
                    package_id=i.package_id,
                )
                for i in items
            ],
            also_cancels=cascade,
            whole_order_only=False,
            tip=tip,
        )

    async def _resolve(self, run: CancelRun, items: list[LazadaOrderItem]) -> list[str]:
        """The items a request asks for: its ``item_ids``, or the rest of the order."""
        cancellation = run.cancellation
        if cancellation.item_ids:
            return cancellation.item_ids
        if run.cancel_calls > 0:
            # Calls went out for the items resolved then (a cancellation recorded before they
            # were remembered meant every item).
            resolved: list[str] | None = cancellation.details.get(RESOLVED)
            return resolved or [item.order_item_id for item in items]
        rest = the_rest(items)
        if not rest:
            raise nothing_left(run.order_id, items)
        await run.remember(**{RESOLVED: rest})
        return rest

    async def run(self, run: CancelRun) -> Outcome:
        cancellation = run.cancellation
        items = await self._items(run)
        requested = await self._resolve(run, items)
        by_id = {item.order_item_id: item for item in items}
        if run.cancel_calls > 0 and all(
            by_id.get(i) and by_id[i].status in CANCELLED for i in requested
        ):
            return Outcome(
                "succeeded",
                cancelled_item_ids=requested,
                marketplace_message="Cancelled by an earlier call whose answer was lost.",
                details={} if cancellation.item_ids else {RESOLVED: requested},
            )
        unknown, stuck, cascade = self._plan(items, requested)
        if unknown:
            raise Refusal(
                UnknownItems,
                f"Not items of order {run.order_id}: {', '.join(unknown)}.",
                extra={"unknown_item_ids": unknown},
            )
        if stuck:
            raise Refusal(
                ItemsNotCancellable,
                "Only pending, packed, repacked or ready_to_ship items can be cancelled: "
                + "; ".join(f"{i.order_item_id} is {i.status}" for i in stuck),
                extra={
                    "items": [{"order_item_id": i.order_item_id, "status": i.status} for i in stuck]
                },
            )
        if cascade and not cancellation.allow_package_cascade:
            raise Refusal(
                PackageCascadeRefused,
                "These items share a package with the ones you named and would be cancelled "
                f"too: {', '.join(cascade)}. Send allow_package_cascade=true to accept.",
                extra={"cascade_item_ids": cascade},
            )
        validation = await run.read(
            "lazada.cancel_validate",
            lambda: self._call(run, lambda c: c.validate_cancel(run.order_id, requested)),
        )
        option = pick_reason(
            cancellation.reason, cancellation.marketplace_reason_id, validation.reason_options
        )

        async def already_cancelled() -> bool:
            fresh = await self._call(run, lambda c: c.get_order_items(run.order_id))
            states = {i.order_item_id: i.status for i in fresh[0]}
            return all(states.get(i) in CANCELLED for i in requested)

        result = await run.cancel_once(
            "lazada.cancel_create",
            already_done=already_cancelled,
            call=lambda: self._call(
                run, lambda c: c.cancel(run.order_id, requested, option.reason_id)
            ),
        )
        await self._resync(run)
        details: dict[str, object] = {
            "reason_id": option.reason_id,
            "reason_name": option.reason_name,
            "validate_tip": validation.tip_content,
            "cascade_item_ids": cascade,
        }
        if not cancellation.item_ids:
            details[RESOLVED] = requested
            details["skipped_items"] = [
                {"order_item_id": i.order_item_id, "status": i.status}
                for i in items
                if i.order_item_id not in requested
            ]
        return Outcome(
            "succeeded",
            cancelled_item_ids=requested + cascade,
            marketplace_message=result.tip_content if result else None,
            details=details,
        )

    async def _resync(self, run: CancelRun) -> None:
        """Bring the stored item statuses up to date; a failure leaves it to the worker."""
        from app.integrations.lazada.tasks import sync_order

        try:
            await sync_order(run.ctx, run.account.id, run.order_id)
            await run.step("lazada.resync", True)
        except Exception as exc:
            log.warning("cancellation.resync_deferred", order_id=run.order_id, error=str(exc))
            async with transaction(run.ctx.sessionmaker) as session:
                await enqueue_order_sync(session, run.account.id, run.order_id)
            await run.step("lazada.resync", False, "deferred to the worker")
