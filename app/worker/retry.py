"""The one place that decides, after a job failed, whether to try again and when."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from pgqueuer.errors import RetryRequested
from pgqueuer.models import Job

from app.db import database_unavailable
from app.integrations.errors import MarketplaceError, PermanentError
from app.kit.backoff import backoff_delay

log = structlog.get_logger(__name__)


class PermanentJobError(Exception):
    """Retrying cannot help (the account is gone, or needs the seller to re-authorise)."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, MarketplaceError | PermanentJobError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: unexpected error"


async def run_with_retries(
    job: Job,
    work: Callable[[], Awaitable[None]],
    *,
    max_attempts: int,
    base_delay: float,
    max_delay: float,
    on_retry: Callable[[str], Awaitable[None]],
    on_give_up: Callable[[str], Awaitable[None]],
) -> None:
    """Run ``work``; on a transient failure ask PgQueuer to run the job again after a jittered
    backoff, and after ``max_attempts`` (or on a permanent failure) give up: ``on_give_up``
    records why, and the job is parked as failed. The database being away is not the job's
    failure: it goes up to the executor, which waits it out."""
    try:
        await work()
    except RetryRequested:
        raise
    except Exception as exc:
        if database_unavailable(exc):
            # Not the job's failure: the executor waits for the database and runs it again,
            # without spending an attempt (app.worker.executor).
            raise
        attempt = job.attempts + 1
        reason = describe(exc)
        permanent = isinstance(exc, PermanentError | PermanentJobError)
        if not permanent and attempt < max_attempts:
            retry_after = exc.retry_after if isinstance(exc, MarketplaceError) else None
            delay = backoff_delay(attempt, base=base_delay, cap=max_delay, retry_after=retry_after)
            log.info(
                "worker.job.retry",
                entrypoint=job.entrypoint,
                job_id=job.id,
                attempt=attempt,
                delay=round(delay, 2),
                reason=reason,
            )
            await on_retry(reason)
            raise RetryRequested(delay=timedelta(seconds=delay), reason=reason) from exc
        log.warning(
            "worker.job.failed",
            entrypoint=job.entrypoint,
            job_id=job.id,
            attempt=attempt,
            reason=reason,
        )
        await on_give_up(reason)
        raise
