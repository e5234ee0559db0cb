"""How every job runs: with the request id of the request that caused it in its log lines, and
through database outages without losing the job or spending its attempts.

A job that hits the database being away (a restart, a failover, a hang) did nothing wrong, and
nothing it wrote is half-done (each of its transactions committed or rolled back whole). Left to
PgQueuer, the error would count as a failure: the retry it asks for cannot even be recorded while
the database is away, so the job would end up parked as failed once it is back. Instead the job
waits here until the database answers, then runs again from the start, still holding its slot
and its heartbeat, and no attempt is counted. Only a shutdown ends the wait; the job then stays
picked, and a worker takes it over once its heartbeat is stale.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pgqueuer import QueueManager
from pgqueuer.errors import RetryRequested
from pgqueuer.executors import EntrypointExecutor
from pgqueuer.models import Context, Job

from app.db import database_unavailable
from app.integrations.errors import MarketplaceError
from app.worker.retry import PermanentJobError

log = structlog.get_logger(__name__)

# Waits until the database answers (True), or until shutdown (False).
DatabaseWait = Callable[[], Awaitable[bool]]


@dataclasses.dataclass
class ContextExecutor(EntrypointExecutor):
    wait_for_database: DatabaseWait | None = None

    async def execute(self, job: Job, context: Context) -> None:
        headers = job.headers or {}
        with structlog.contextvars.bound_contextvars(
            request_id=headers.get("request_id"), job_id=job.id, entrypoint=job.entrypoint
        ):
            while True:
                try:
                    await super().execute(job, context)
                    return
                except Exception as exc:
                    if self.wait_for_database is None or not database_unavailable(exc):
                        _log_unexpected(exc)
                        raise
                    log.warning("worker.job.database_unavailable", error=type(exc).__name__)
                    if not await self.wait_for_database():
                        raise  # shutting down: left picked, taken over after its heartbeat
                    log.info("worker.job.rerun_after_outage")


@dataclasses.dataclass
class ContextQueueManager(QueueManager):
    """A QueueManager whose entrypoints run under ``ContextExecutor`` unless told otherwise."""

    wait_for_database: DatabaseWait | None = None

    def entrypoint(self, name: str, **kwargs: Any) -> Any:
        kwargs.setdefault(
            "executor_factory",
            functools.partial(ContextExecutor, wait_for_database=self.wait_for_database),
        )
        return super().entrypoint(name, **kwargs)


def _log_unexpected(exc: Exception) -> None:
    """The one place a job's unexpected error is logged with its traceback (PgQueuer's own
    line for it is cut to one line: ``app.logging``). A marketplace's answer, a permanent
    refusal or a retry request is expected, and its job logs why in its own words."""
    original = exc.__cause__ if isinstance(exc, RetryRequested) else exc
    if isinstance(original, MarketplaceError | PermanentJobError) or original is None:
        return
    log.error("worker.job.error", exc_info=original)
