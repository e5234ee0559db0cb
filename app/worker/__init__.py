"""Background jobs on PgQueuer: enqueue in the caller's transaction, run with retries."""

from app.worker.queue import Enqueued, JobRequest, enqueue_coalesced, enqueue_coalesced_many

__all__ = ["Enqueued", "JobRequest", "enqueue_coalesced", "enqueue_coalesced_many"]
