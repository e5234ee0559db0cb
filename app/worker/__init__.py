"""Background jobs on PgQueuer: enqueue in the caller's transaction, run with retries."""

from app.worker.queue import Enqueued, enqueue_coalesced

__all__ = ["Enqueued", "enqueue_coalesced"]
