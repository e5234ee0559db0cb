"""Cancelling on Newegg: ``PUT orderstatus`` with a reason code (seed 002). A Shipped-by-Newegg
order answers ``Processing``; the worker then follows the SBN cancellation result."""

from __future__ import annotations

from app.cancellations.errors import (
    AlreadyCancelled,
    InvalidOrderNumber,
    MarketplaceInputRejected,
    MarketplaceRefused,
    OrderShipped,
    ReasonNotSupported,
    Refusal,
    WholeOrderOnly,
)
from app.cancellations.run import CancelRun, Outcome
from app.cancellations.schemas import CancelOptions, CancelReason, ReasonOption
from app.integrations import errors
from app.integrations.newegg.client import NeweggClient
from app.integrations.newegg.schemas import SHIPPED_BY_NEWEGG, UNSHIPPED, VOID
from app.kit.text import is_ascii_digits

REASON_CODES = {
    CancelReason.out_of_stock: 24,
    CancelReason.customer_request: 72,
    CancelReason.pricing_error: 73,
    CancelReason.unable_to_fulfill: 74,
}
CODE_NAMES = {
    24: "OutOfStock",
    72: "Customer Requested to Cancel",
    73: "PriceError",
    74: "Unable to Fulfill Order",
}
MAX_ORDER_NUMBER = 2_147_483_647

_REFUSALS: dict[str, type[AlreadyCancelled | OrderShipped | MarketplaceInputRejected]] = {
    "SO008": AlreadyCancelled,
    "SO006": OrderShipped,
    "SO011": OrderShipped,
    "SO025": OrderShipped,
    "SO027": OrderShipped,
    "SO002": MarketplaceInputRejected,
    "SO014": MarketplaceInputRejected,
    "SO017": MarketplaceInputRejected,
    "SO037": MarketplaceInputRejected,
}


def order_number(order_id: str) -> int:
    if not is_ascii_digits(order_id) or not 1 <= int(order_id) <= MAX_ORDER_NUMBER:
        raise Refusal(
            InvalidOrderNumber,
            f"Newegg order numbers are integers from 1 to {MAX_ORDER_NUMBER}.",
        )
    return int(order_id)


def reason_code(reason: str, marketplace_reason_id: str | None) -> int:
    if marketplace_reason_id is not None:
        if is_ascii_digits(marketplace_reason_id) and int(marketplace_reason_id) in CODE_NAMES:
            return int(marketplace_reason_id)
    elif reason in REASON_CODES:
        return REASON_CODES[CancelReason(reason)]
    accepted = [r.value for r in REASON_CODES]
    raise Refusal(
        ReasonNotSupported,
        f"Newegg accepts the reasons {', '.join(accepted)} "
        f"(codes {', '.join(map(str, CODE_NAMES))}).",
        extra={"accepted_reasons": accepted, "marketplace_reasons": sorted(CODE_NAMES)},
    )


class NeweggCancelFlow:
    marketplace = "newegg"

    async def options(self, run: CancelRun, item_ids: list[str] | None) -> CancelOptions:
        number = order_number(run.order_id)
        client = run.ctx.clients.newegg(run.account)
        status = await run.read("newegg.get_order_status", lambda: client.get_order_status(number))
        blocked = None
        if status.status_code == VOID:
            blocked = "already voided"
        elif status.status_code != UNSHIPPED:
            blocked = f"order status is {status.status_name or status.status_code}"
        return CancelOptions(
            marketplace=self.marketplace,
            order_id=run.order_id,
            cancellable=blocked is None,
            blocked_reason=blocked,
            free_text_reason=False,
            reasons=[
                ReasonOption(reason=r, marketplace_reason_id=str(code), name=CODE_NAMES[code])
                for r, code in REASON_CODES.items()
            ],
            items=[],
            also_cancels=[],
            whole_order_only=True,
            tip="Shipped by Newegg: the warehouse decides; the cancellation stays "
            "processing until it does."
            if status.fulfillment_option == SHIPPED_BY_NEWEGG
            else None,
        )

    async def run(self, run: CancelRun) -> Outcome:
        cancellation = run.cancellation
        if cancellation.item_ids:
            raise Refusal(WholeOrderOnly, "Newegg cancels whole orders: omit item_ids.")
        number = order_number(run.order_id)
        code = reason_code(cancellation.reason, cancellation.marketplace_reason_id)
        client = run.ctx.clients.newegg(run.account)

        async def already_requested() -> bool:
            return await self._state(client, number) is not None

        try:
            answer = await run.cancel_once(
                "newegg.cancel",
                already_done=already_requested,
                call=lambda: client.cancel_order(number, code),
            )
        except errors.Rejected as exc:
            kind = _REFUSALS.get(exc.code or "", MarketplaceRefused)
            raise Refusal(
                kind,
                f"Newegg said {exc.code}: {exc.message}",
                marketplace_code=exc.code,
                marketplace_message=exc.message,
            ) from exc
        details = {"reason_code": code}
        if answer is None:
            state = await run.read("newegg.state", lambda: self._state(client, number))
            return Outcome(
                state or "processing",
                details=details,
                marketplace_message="Cancelled by an earlier call whose answer was lost.",
            )
        status = answer.result.order_status
        return Outcome(
            "processing" if status == "Processing" else "succeeded",
            cancelled_item_ids=[],
            marketplace_code=status,
            marketplace_message=f"OrderStatus: {status}",
            details={**details, "sbn": status == "Processing"},
        )

    @staticmethod
    async def _state(client: NeweggClient, number: int) -> str | None:
        """succeeded (voided), processing (an SBN request is pending), or None (nothing yet)."""
        status = await client.get_order_status(number)
        if status.status_code == VOID:
            return "succeeded"
        if status.fulfillment_option != SHIPPED_BY_NEWEGG:
            return None
        try:
            result = await client.get_sbn_cancellation_result(number)
        except errors.RemoteNotFound:
            return None
        return {"Success": "succeeded", "Processing": "processing"}.get(result.body.result)
