"""Worker jobs that finish what a request could not: resume a cancellation whose outcome was
unknown, and follow a marketplace's pending decision (Newegg SBN) to its end."""

from __future__ import annotations

import uuid
from datetime import timedelta

import orjson
import structlog
from pgqueuer import QueueManager
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job

from app.accounts import credentials
from app.accounts.credentials import CredentialsUnreadable
from app.cancellations.jobs import POLL, RESUME
from app.cancellations.repository import CancellationRepository
from app.cancellations.service import cancellation as cancellation_service
from app.db import transaction
from app.integrations.errors import MarketplaceError
from app.kit.time import utc_now
from app.models import Cancellation, CancellationStatus, MarketplaceAccount
from app.worker.context import WorkerContext

log = structlog.get_logger(__name__)


async def _load(ctx: WorkerContext, job: Job) -> Cancellation | None:
    payload = orjson.loads(job.payload or b"{}")
    async with transaction(ctx.sessionmaker) as session:
        return await CancellationRepository.from_session(session).get(
            uuid.UUID(payload["cancellation_id"])
        )


async def poll_once(ctx: WorkerContext, found: Cancellation, account: MarketplaceAccount) -> str:
    """Ask Newegg for the SBN decision; record it when final. Returns the result seen."""
    client = ctx.clients.newegg(account)
    result = await client.get_sbn_cancellation_result(int(found.external_order_id))
    outcome = result.body.result
    if outcome in ("Success", "Failed"):
        succeeded = outcome == "Success"
        async with transaction(ctx.sessionmaker) as session:
            await CancellationRepository.from_session(session).finish(
                found.id,
                status=(
                    CancellationStatus.succeeded if succeeded else CancellationStatus.rejected
                ).value,
                error_code=None if succeeded else "marketplace_refused",
                marketplace_code=outcome,
                marketplace_message=result.body.error_message or f"SBN cancellation: {outcome}",
                details={
                    **found.details,
                    "problem_detail": "Newegg's warehouse did not cancel: "
                    f"{result.body.error_message}",
                },
                completed_at=utc_now(),
            )
    return outcome


def register(qm: QueueManager, ctx: WorkerContext) -> None:
    settings = ctx.settings

    @qm.entrypoint(POLL, on_failure="hold")
    async def poll_job(job: Job) -> None:
        found = await _load(ctx, job)
        if found is None or found.status != CancellationStatus.processing:
            return
        try:
            async with transaction(ctx.sessionmaker) as session:
                account = await credentials.load(session, found.account_id)
            if account is None:
                return
            outcome = await poll_once(ctx, found, account)
        except MarketplaceError as exc:
            log.info("cancellation.poll.error", cancellation_id=str(found.id), error=str(exc))
            outcome = "Processing"
        except CredentialsUnreadable:
            # Logged with what to do; the marketplace's decision is asked again next time,
            # which sees it once the account is fixed (or gives up after cancel_poll_max).
            outcome = "Processing"
        if outcome not in ("Success", "Failed"):
            if job.attempts + 1 >= settings.cancel_poll_max:
                async with transaction(ctx.sessionmaker) as session:
                    await CancellationRepository.from_session(session).finish(
                        found.id,
                        status=CancellationStatus.failed.value,
                        error_code="marketplace_unavailable",
                        marketplace_message="No final answer from the marketplace in time.",
                        completed_at=utc_now(),
                    )
                return
            raise RetryRequested(delay=timedelta(seconds=settings.cancel_poll_interval))
        log.info("cancellation.poll.final", cancellation_id=str(found.id), outcome=outcome)

    @qm.entrypoint(RESUME, on_failure="hold")
    async def resume_job(job: Job) -> None:
        found = await _load(ctx, job)
        if found is None:
            return
        if found.status not in (CancellationStatus.processing, CancellationStatus.pending):
            return
        if found.status == CancellationStatus.processing:
            # Back to pending: the flow asks the marketplace for the order's state first,
            # because cancel_calls > 0.
            async with transaction(ctx.sessionmaker) as session:
                await CancellationRepository.from_session(session).finish(
                    found.id, status=CancellationStatus.pending.value
                )
        # A still-unknown outcome queues the next resume itself, with a longer delay.
        await cancellation_service.execute(ctx, found.id)
