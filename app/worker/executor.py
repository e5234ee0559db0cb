"""Jobs log with the request id of the request that caused them."""

from __future__ import annotations

import dataclasses
from typing import Any

import structlog
from pgqueuer import QueueManager
from pgqueuer.executors import EntrypointExecutor
from pgqueuer.models import Context, Job


@dataclasses.dataclass
class ContextExecutor(EntrypointExecutor):
    async def execute(self, job: Job, context: Context) -> None:
        headers = job.headers or {}
        with structlog.contextvars.bound_contextvars(
            request_id=headers.get("request_id"), job_id=job.id, entrypoint=job.entrypoint
        ):
            await super().execute(job, context)


class ContextQueueManager(QueueManager):
    """A QueueManager whose entrypoints run under ``ContextExecutor`` unless told otherwise."""

    def entrypoint(self, name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("executor_factory", ContextExecutor)
        return super().entrypoint(name, **kwargs)
