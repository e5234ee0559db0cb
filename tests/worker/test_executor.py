"""A job's log lines carry the request id of the request that queued it."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Context, Job

from app.worker.executor import ContextExecutor


async def test_job_runs_bound_to_its_request_id() -> None:
    seen: dict[str, object] = {}

    async def entrypoint(job: Job) -> None:
        seen.update(structlog.contextvars.get_contextvars())

    executor = ContextExecutor(
        EntrypointExecutorParameters(
            concurrency_limit=0,
            func=entrypoint,
            accepts_context=False,
        )
    )
    now = datetime.now(UTC)
    job = Job.model_validate(
        {
            "id": 7,
            "priority": 0,
            "created": now,
            "updated": now,
            "heartbeat": now,
            "execute_after": now,
            "status": "picked",
            "entrypoint": "lazada.order.sync",
            "payload": b"{}",
            "queue_manager_id": None,
            "headers": {"request_id": "req-123"},
        }
    )
    await executor.execute(job, Context(cancellation=None))  # type: ignore[arg-type]
    assert seen["request_id"] == "req-123"
    assert seen["job_id"] == 7
    assert "request_id" not in structlog.contextvars.get_contextvars()
