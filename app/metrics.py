"""Prometheus metrics. Counters live in the process that counts; gauges that describe the
database (inbox, queue, sync lag) are read from it when /metrics is scraped, so every replica
reports the same truth for them."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.spool import Spool
from app.kit.supervisor import Supervisor

REGISTRY = CollectorRegistry(auto_describe=True)

PUSHES = Counter(
    "ordersync_pushes_total",
    "Pushes received, by outcome (accepted, duplicate, spooled, rejected_<code>).",
    ["marketplace", "outcome"],
    registry=REGISTRY,
)
INTAKE_BATCH = Histogram(
    "ordersync_intake_batch_pushes",
    "Pushes stored per intake transaction (the webhook's group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
    registry=REGISTRY,
)
MARKETPLACE_CALLS = Counter(
    "ordersync_marketplace_calls_total",
    "HTTP calls to marketplaces, by API path and HTTP status.",
    ["marketplace", "api", "status"],
    registry=REGISTRY,
)
MARKETPLACE_ERRORS = Counter(
    "ordersync_marketplace_errors_total",
    "Marketplace answers mapped to errors, by kind and marketplace code.",
    ["marketplace", "kind", "code"],
    registry=REGISTRY,
)
CANCELLATIONS = Counter(
    "ordersync_cancellations_total",
    "Cancellations finished, by marketplace and outcome.",
    ["marketplace", "status", "error_code"],
    registry=REGISTRY,
)
INBOX = Gauge(
    "ordersync_inbox_events", "Webhook inbox rows by state.", ["state"], registry=REGISTRY
)
QUEUE = Gauge(
    "ordersync_queue_jobs",
    "Background jobs by entrypoint and status.",
    ["entrypoint", "status"],
    registry=REGISTRY,
)
SYNC_LAG = Gauge(
    "ordersync_sync_lag_seconds",
    "Age of the oldest push whose work is not done yet (0 when none waits).",
    registry=REGISTRY,
)
SPOOL_DEPTH = Gauge(
    "ordersync_spool_depth",
    "Pushes kept on local disk while the database was unavailable.",
    registry=REGISTRY,
)
SPOOL_OLDEST = Gauge(
    "ordersync_spool_oldest_seconds",
    "Age of the oldest push waiting in the local spool (0 when it is empty).",
    registry=REGISTRY,
)
SPOOL_WRITE_FAILURES = Counter(
    "ordersync_spool_write_failures_total",
    "Pushes refused (503) because the database was away and the spool could not be written, "
    "by errno (ENOSPC: disk full; EACCES, EROFS, ENOTDIR: unwritable).",
    ["reason"],
    registry=REGISTRY,
)
LOOP_RESTARTS = Counter(
    "ordersync_loop_restarts_total",
    "Restarts of a supervised background loop (it raised, or ended by itself).",
    ["loop"],
    registry=REGISTRY,
)
LOOP_UP = Gauge(
    "ordersync_loop_up",
    "1 while a supervised loop runs and has done its work since it last (re)started.",
    ["loop"],
    registry=REGISTRY,
)
LOOP_SINCE_SUCCESS = Gauge(
    "ordersync_loop_seconds_since_success",
    "Seconds since a supervised loop last finished an iteration that did its work.",
    ["loop"],
    registry=REGISTRY,
)

_INBOX_SQL = text("SELECT state, count(*) FROM external_events GROUP BY state")
_QUEUE_SQL = text(
    "SELECT entrypoint, status::text, count(*) FROM pgqueuer GROUP BY entrypoint, status"
)
_LAG_SQL = text(
    "SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0) "
    "FROM external_events WHERE state = 'pending'"
)


def count_restart(loop: str) -> None:
    LOOP_RESTARTS.labels(loop).inc()


def _describe_process(supervisor: Supervisor | None, spool: Spool | None) -> None:
    if spool is not None:
        SPOOL_DEPTH.set(spool.depth())
        SPOOL_OLDEST.set(spool.oldest_age())
    if supervisor is not None:
        for status in supervisor.statuses():
            LOOP_UP.labels(status.name).set(
                1 if status.state == "running" and status.down_since is None else 0
            )
            if status.seconds_since_success is not None:
                LOOP_SINCE_SUCCESS.labels(status.name).set(status.seconds_since_success)


async def render(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    spool: Spool | None = None,
    supervisor: Supervisor | None = None,
) -> bytes:
    _describe_process(supervisor, spool)
    try:
        # A hanging database must not hang the scrape: the process's own figures still count.
        async with asyncio.timeout(2.0), sessionmaker() as session:
            inbox = (await session.execute(_INBOX_SQL)).all()
            queue = (await session.execute(_QUEUE_SQL)).all()
            lag = (await session.execute(_LAG_SQL)).scalar_one()
    except Exception:
        # The database is down: process counters and the spool depth still matter most.
        return generate_latest(REGISTRY)
    INBOX.clear()
    for state, count in inbox:
        INBOX.labels(state).set(count)
    QUEUE.clear()
    for entrypoint, status, count in queue:
        QUEUE.labels(entrypoint, status).set(count)
    SYNC_LAG.set(float(lag))
    return generate_latest(REGISTRY)


def marketplace_of(path: str) -> str:
    if path.startswith("/openapi/") or "/openapi/" in path:
        return "shoplazza"
    if "/marketplace" in path:
        return "newegg"
    return "lazada"
