"""One cancel API for every marketplace: record the intent, run the marketplace's flow once,
answer the same way to every retry with the same Idempotency-Key."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import credentials
from app.accounts.credentials import CredentialsUnreadable
from app.accounts.repository import AccountRepository
from app.accounts.service import AccountNotFound
from app.cancellations.errors import (
    REFUSALS,
    CancellationNotFound,
    IdempotencyKeyReused,
    MarketplaceDown,
    Refusal,
)
from app.cancellations.jobs import enqueue_poll, enqueue_resume
from app.cancellations.mapping import refusal_from
from app.cancellations.repository import CancellationRepository
from app.cancellations.run import CancelRun, Outcome, OutcomeUnknown
from app.cancellations.schemas import CancellationCreate, CancelOptions
from app.db import transaction
from app.exceptions import AppError
from app.integrations.errors import MarketplaceError
from app.integrations.lazada.cancel import LazadaCancelFlow
from app.integrations.newegg.cancel import NeweggCancelFlow
from app.integrations.shoplazza.cancel import ShoplazzaCancelFlow
from app.kit.backoff import backoff_delay
from app.kit.locking import advisory_xact_lock
from app.kit.time import utc_now
from app.metrics import CANCELLATIONS
from app.models import TERMINAL, Cancellation, CancellationStatus, MarketplaceAccount
from app.worker.context import WorkerContext

log = structlog.get_logger(__name__)

FLOWS: dict[str, LazadaCancelFlow | ShoplazzaCancelFlow | NeweggCancelFlow] = {
    "lazada": LazadaCancelFlow(),
    "shoplazza": ShoplazzaCancelFlow(),
    "newegg": NeweggCancelFlow(),
}


def request_hash(order_id: str, data: CancellationCreate) -> str:
    canonical = orjson.dumps(
        {"order_id": order_id, **data.model_dump(mode="json")}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


def problem_of(cancellation: Cancellation) -> AppError | None:
    """The error a rejected or failed cancellation answers with, every time it is asked."""
    if cancellation.status not in (CancellationStatus.rejected, CancellationStatus.failed):
        return None
    error = REFUSALS.get(cancellation.error_code or "", MarketplaceDown)
    return error(
        cancellation.details.get("problem_detail"),
        extra={
            **cancellation.details.get("problem_extra", {}),
            "cancellation_id": str(cancellation.id),
            "marketplace_code": cancellation.marketplace_code,
            "marketplace_message": cancellation.marketplace_message,
        },
    )


class CancellationService:
    async def _account(self, session: AsyncSession, account_id: uuid.UUID) -> MarketplaceAccount:
        account = await AccountRepository.from_session(session).get(account_id)
        if account is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        return account

    async def options(
        self, ctx: WorkerContext, account_id: uuid.UUID, order_id: str, item_ids: list[str] | None
    ) -> CancelOptions:
        async with transaction(ctx.sessionmaker) as session:
            account = await credentials.load(session, account_id)
        if account is None:
            raise AccountNotFound(f"Account {account_id} does not exist.")
        probe = Cancellation(
            id=uuid.uuid4(), external_order_id=order_id, item_ids=item_ids or [], cancel_calls=0
        )
        run = _ProbeRun(ctx, probe, account)
        try:
            return await FLOWS[account.marketplace].options(run, item_ids)
        except (Refusal, MarketplaceError) as exc:
            refused = exc if isinstance(exc, Refusal) else refusal_from(exc)
            raise refused.error(refused.detail, extra=refused.extra) from None

    async def create(
        self,
        ctx: WorkerContext,
        account_id: uuid.UUID,
        order_id: str,
        data: CancellationCreate,
        idempotency_key: str,
    ) -> tuple[Cancellation, bool]:
        """Returns the cancellation and whether it is an earlier answer replayed. Raises the
        cancellation's problem when it was rejected or failed."""
        digest = request_hash(order_id, data)
        async with transaction(ctx.sessionmaker) as session:
            account = await self._account(session, account_id)
            row, created = await CancellationRepository.from_session(session).claim(
                {
                    "account_id": account_id,
                    "marketplace": account.marketplace,
                    "external_order_id": order_id,
                    "item_ids": data.item_ids or [],
                    "reason": data.reason.value,
                    "marketplace_reason_id": data.marketplace_reason_id,
                    "note": data.note,
                    "allow_package_cascade": data.allow_package_cascade,
                    "idempotency_key": idempotency_key,
                    "request_hash": digest,
                    "status": CancellationStatus.pending.value,
                    "cancelled_item_ids": [],
                    "cancel_calls": 0,
                    "steps": [],
                    "details": {},
                }
            )
        if not created and row.request_hash != digest:
            raise IdempotencyKeyReused(
                "Use a new Idempotency-Key for a different request.",
                extra={"cancellation_id": str(row.id)},
            )
        cancellation = await self.execute(ctx, row.id)
        if (problem := problem_of(cancellation)) is not None:
            raise problem
        return cancellation, not created

    async def execute(self, ctx: WorkerContext, cancellation_id: uuid.UUID) -> Cancellation:
        """Run the flow unless another request is running it or has finished it.

        The advisory lock makes a concurrent request with the same key wait, then read the
        first one's result instead of calling the marketplace itself.
        """
        async with ctx.sessionmaker() as lock_session, lock_session.begin():
            await advisory_xact_lock(lock_session, f"cancellation:{cancellation_id}")
            async with transaction(ctx.sessionmaker) as session:
                cancellation = await CancellationRepository.from_session(session).get(
                    cancellation_id
                )
            assert cancellation is not None
            if cancellation.status != CancellationStatus.pending:
                return cancellation
            await self._run(ctx, cancellation)
        async with transaction(ctx.sessionmaker) as session:
            done = await CancellationRepository.from_session(session).get(cancellation_id)
        assert done is not None
        return done

    async def _run(self, ctx: WorkerContext, cancellation: Cancellation) -> None:
        try:
            async with transaction(ctx.sessionmaker) as session:
                account = await credentials.load(session, cancellation.account_id)
        except CredentialsUnreadable as exc:
            refusal = self._unreadable(cancellation, exc)
            await self._finish(ctx, cancellation, self._refused(refusal))
            return
        # A cancellation is deleted with its account (ON DELETE CASCADE).
        assert account is not None, "the cancellation's account vanished"
        run = CancelRun(ctx, cancellation, account)
        values: dict[str, object]
        try:
            outcome = await FLOWS[account.marketplace].run(run)
        except OutcomeUnknown as exc:
            await self._unknown(ctx, run, str(exc), exc.retry_after)
            return
        except (Refusal, MarketplaceError) as exc:
            refusal = exc if isinstance(exc, Refusal) else refusal_from(exc)
            values = self._refused(refusal)
        else:
            values = self._succeeded(outcome)
        await self._finish(ctx, cancellation, values)

    async def _finish(
        self, ctx: WorkerContext, cancellation: Cancellation, values: dict[str, object]
    ) -> None:
        async with transaction(ctx.sessionmaker) as session:
            await CancellationRepository.from_session(session).finish(cancellation.id, **values)
            if values["status"] == CancellationStatus.processing.value:
                await enqueue_poll(
                    session,
                    cancellation.id,
                    delay=timedelta(seconds=ctx.settings.cancel_poll_interval),
                )
        CANCELLATIONS.labels(
            cancellation.marketplace, str(values["status"]), str(values.get("error_code") or "")
        ).inc()
        log.info(
            "cancellation.finished",
            cancellation_id=str(cancellation.id),
            marketplace=cancellation.marketplace,
            status=values["status"],
            error_code=values.get("error_code"),
        )

    async def _unknown(
        self, ctx: WorkerContext, run: CancelRun, error: str, retry_after: float | None
    ) -> None:
        """Leave it processing and look again later; after enough calls, give up loudly."""
        await run.step("outcome_unknown", False, error)
        settings = ctx.settings
        give_up = run.cancel_calls >= settings.cancel_call_attempts * 4
        async with transaction(ctx.sessionmaker) as session:
            repository = CancellationRepository.from_session(session)
            if give_up:
                await repository.finish(
                    run.cancellation.id,
                    status=CancellationStatus.failed.value,
                    error_code=MarketplaceDown.code,
                    marketplace_message=f"No answer after {run.cancel_calls} calls: check the "
                    "order at the marketplace before trying again.",
                    details={"problem_detail": error},
                    completed_at=utc_now(),
                )
                return
            await repository.finish(
                run.cancellation.id,
                status=CancellationStatus.processing.value,
                marketplace_message="The marketplace did not confirm; checking again later.",
                details={"awaiting": "resume"},
            )
            delay = max(
                retry_after or 0.0,
                backoff_delay(
                    run.cancel_calls, base=settings.retry_base_delay, cap=settings.retry_max_delay
                ),
            )
            await enqueue_resume(session, run.cancellation.id, delay=timedelta(seconds=delay))

    @staticmethod
    def _unreadable(cancellation: Cancellation, exc: CredentialsUnreadable) -> Refusal:
        """Recorded as failed, like credentials the marketplace refused: the same key answers
        the same 424 again, and a new key is needed once the account is fixed."""
        detail = exc.detail
        if cancellation.cancel_calls > 0:
            detail += (
                " An earlier cancel call may have reached the marketplace: check the order "
                "there before trying again."
            )
        return Refusal(CredentialsUnreadable, detail, extra=exc.extra)

    @staticmethod
    def _refused(refusal: Refusal) -> dict[str, object]:
        status = CancellationStatus.failed if refusal.failed else CancellationStatus.rejected
        return {
            "status": status.value,
            "error_code": refusal.error.code,
            "marketplace_code": refusal.marketplace_code,
            "marketplace_message": refusal.marketplace_message,
            "details": {"problem_detail": refusal.detail, "problem_extra": refusal.extra},
            "completed_at": utc_now(),
        }

    @staticmethod
    def _succeeded(outcome: Outcome) -> dict[str, object]:
        values: dict[str, object] = {
            "status": outcome.status,
            "cancelled_item_ids": outcome.cancelled_item_ids,
            "marketplace_code": outcome.marketplace_code,
            "marketplace_message": outcome.marketplace_message,
            "details": outcome.details,
        }
        if outcome.status in TERMINAL:
            values["completed_at"] = utc_now()
        return values

    async def get(self, session: AsyncSession, cancellation_id: uuid.UUID) -> Cancellation:
        found = await CancellationRepository.from_session(session).get(cancellation_id)
        if found is None:
            raise CancellationNotFound(f"Cancellation {cancellation_id} does not exist.")
        return found

    async def list_for_order(
        self, session: AsyncSession, account_id: uuid.UUID, order_id: str
    ) -> Sequence[Cancellation]:
        await self._account(session, account_id)
        return await CancellationRepository.from_session(session).list_for_order(
            account_id, order_id
        )


class _ProbeRun(CancelRun):
    """cancel-options reads only; its steps are not recorded anywhere."""

    async def step(self, name: str, ok: bool, detail: str | None = None) -> None:
        return None

    async def remember(self, **details: Any) -> None:
        return None


cancellation = CancellationService()
