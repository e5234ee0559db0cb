"""Cancelling on Shoplazza: one call on the whole order, with a free-text reason (seed 001).

A paid order does not become ``cancelled`` but ``finished`` (webhook FAQ); we store what the
shop answered rather than assume.
"""

from __future__ import annotations

from app.cancellations.errors import (
    AlreadyCancelled,
    MarketplaceRefused,
    OrderShipped,
    Refusal,
    WholeOrderOnly,
)
from app.cancellations.run import CancelRun, Outcome
from app.cancellations.schemas import CancelOptions, CancelReason, ItemOption, ReasonOption
from app.integrations import errors
from app.integrations.shoplazza.schemas import ShoplazzaOrder

LABELS = {
    CancelReason.out_of_stock: "Out of stock",
    CancelReason.customer_request: "Customer requested cancellation",
    CancelReason.pricing_error: "Pricing error",
    CancelReason.unable_to_fulfill: "Unable to fulfill the order",
    CancelReason.sourcing_delay: "Sourcing delay",
    CancelReason.other: "Other",
}
OPEN_STATUSES = frozenset({"opened", "placed"})
SHIPPED = frozenset({"shipped", "partially_shipped", "finished", "partially_finished"})


def reason_text(reason: str, marketplace_reason: str | None, note: str | None) -> str:
    base = marketplace_reason or LABELS[CancelReason(reason)]
    return f"{base}: {note}" if note else base


def _blocked(order: ShoplazzaOrder) -> str | None:
    if order.cancelled:
        return f"already cancelled (status {order.status})"
    if order.fulfillment_status in SHIPPED:
        return f"fulfillment is {order.fulfillment_status}"
    if order.status not in OPEN_STATUSES:
        return f"order status is {order.status}"
    return None


class ShoplazzaCancelFlow:
    marketplace = "shoplazza"

    async def options(self, run: CancelRun, item_ids: list[str] | None) -> CancelOptions:
        client = run.ctx.clients.shoplazza(run.account)
        order = await run.read("shoplazza.get_order", lambda: client.get_order(run.order_id))
        blocked = _blocked(order)
        line_ids = [str(line.id) for line in order.line_items if line.id]
        return CancelOptions(
            marketplace=self.marketplace,
            order_id=run.order_id,
            cancellable=blocked is None,
            blocked_reason=blocked,
            free_text_reason=True,
            reasons=[
                ReasonOption(reason=r, marketplace_reason_id=label, name=label)
                for r, label in LABELS.items()
            ],
            items=[
                ItemOption(order_item_id=i, status=order.status or "", cancellable=blocked is None)
                for i in line_ids
            ],
            also_cancels=line_ids,
            whole_order_only=True,
            tip="A paid order moves to 'finished' rather than 'cancelled'."
            if order.financial_status == "paid"
            else None,
        )

    async def run(self, run: CancelRun) -> Outcome:
        cancellation = run.cancellation
        if cancellation.item_ids:
            raise Refusal(WholeOrderOnly, "Shoplazza cancels whole orders: omit item_ids.")
        client = run.ctx.clients.shoplazza(run.account)
        text = reason_text(
            cancellation.reason, cancellation.marketplace_reason_id, cancellation.note
        )

        async def already_cancelled() -> bool:
            return (await client.get_order(run.order_id)).cancelled

        try:
            order = await run.cancel_once(
                "shoplazza.cancel",
                already_done=already_cancelled,
                call=lambda: client.cancel_order(run.order_id, text),
            )
        except errors.Rejected as exc:
            if exc.code != "406":
                raise
            raise await self._wrong_state(run, exc) from exc
        if order is None:
            order = await run.read("shoplazza.get_order", lambda: client.get_order(run.order_id))
        return Outcome(
            "succeeded",
            cancelled_item_ids=[str(line.id) for line in order.line_items if line.id],
            marketplace_message=f"order status: {order.status}",
            details={
                "order_status": order.status,
                "financial_status": order.financial_status,
                "fulfillment_status": order.fulfillment_status,
                "canceled_at": order.canceled_at,
                "reason_sent": text,
            },
        )

    async def _wrong_state(self, run: CancelRun, exc: errors.Rejected) -> Refusal:
        """406 says "not in a state for this"; the order tells us which state."""
        client = run.ctx.clients.shoplazza(run.account)
        order = await run.read("shoplazza.get_order", lambda: client.get_order(run.order_id))
        kind: type[AlreadyCancelled | OrderShipped | MarketplaceRefused] = MarketplaceRefused
        if order.cancelled:
            kind = AlreadyCancelled
        elif order.fulfillment_status in SHIPPED:
            kind = OrderShipped
        return Refusal(
            kind,
            f"Shoplazza refused: {exc.message} (status {order.status}, "
            f"fulfillment {order.fulfillment_status}).",
            marketplace_code=exc.code,
            marketplace_message=exc.message,
            extra={"order_status": order.status, "fulfillment_status": order.fulfillment_status},
        )
