"""What the queue's statements cost with a backlog: 100 waiting syncs against 100,000.

    .venv/bin/python -m bench.queue_depth [--depths 100,100000] [--repeat 30]

On a fresh Postgres of its own (``bench.pgcluster``), built by the migrations, for each depth:

* an account with that many pending pushes (one-line orders) in the inbox, its sync's read of
  the due orders (``ExternalEventRepository.due_orders``) and of when the next one is due;
* the intake's one statement for a new push of that account (coalescing into its waiting sync);
* the sweeper's query (accounts with stale pushes and no sync queued);
* PgQueuer's dequeue with that many jobs queued (one account sync each, as many accounts), and
  a completion.

It prints the median and p90 of each over ``--repeat`` runs, the ratio of the deepest to the
shallowest, and each statement's plan at the deepest (so that a sequential scan shows).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from pgqueuer.db import AsyncpgDriver
from pgqueuer.queries import EntrypointExecutionParameter, Queries
from pgqueuer.types import QueueEntrypoint, QueueManagerId

from app.db import create_engine, create_sessionmaker, to_libpq_url
from app.external_events.repository import _DUE_ORDERS, _NEXT_DUE, ExternalEventRepository
from app.integrations.lazada.jobs import SYNC_ACCOUNT
from app.integrations.lazada.push import SYNC_TYPES, parse_push
from app.integrations.lazada.service import Received, ingest_many
from app.migrate import upgrade
from bench.common import say
from bench.pgcluster import PgCluster
from bench.stack import run_main

SELLER = "700800900000"
TYPES = sorted(SYNC_TYPES)


def _push(order: int) -> bytes:
    return orjson.dumps(
        {
            "seller_id": SELLER,
            "message_type": 0,
            "data": {
                "order_status": "pending",
                "trade_order_id": str(10**12 + order),
                "trade_order_line_id": str(2 * 10**12 + order),
                "status_update_time": 1_800_000_000 + order // 50,
                "buyer_id": "1",
            },
            "timestamp": 1_800_000_000_000,
            "site": "lazada_vn",
        }
    )


async def _fill(db: Any, depth: int) -> uuid.UUID:
    """One account with ``depth`` pending pushes, aged past the sync delay and the sweep age;
    ``depth`` account syncs queued for as many other accounts."""
    await db.execute(
        "TRUNCATE external_events, pgqueuer, pgqueuer_log, marketplace_accounts CASCADE"
    )
    account = uuid.uuid4()
    await db.execute(
        "INSERT INTO marketplace_accounts (id, marketplace, seller_id, country, needs_reauth) "
        "VALUES ($1, 'lazada', $2, 'vn', false)",
        account,
        SELLER,
    )
    await db.execute(
        """
        INSERT INTO external_events (source, dedupe_key, message_type, seller_id, site,
            external_order_id, external_line_id, status, status_update_time, account_id, state,
            payload, received_at)
        SELECT 'lazada', 'bench:' || n, 0, $2, 'lazada_vn', (10^12 + n)::bigint::text,
               (2 * 10^12 + n)::bigint::text, 'pending', 1800000000 + n / 50, $1, 'pending',
               '{}'::jsonb, now() - interval '1 hour' + make_interval(secs => n * 0.001)
        FROM generate_series(1, $3) AS n
        """,
        account,
        SELLER,
        depth,
    )
    await db.execute(
        """
        INSERT INTO pgqueuer (priority, entrypoint, payload, execute_after, dedupe_key, status)
        SELECT 0, $1, convert_to('{}', 'UTF8'), now(), $1 || ':' || gen_random_uuid(), 'queued'
        FROM generate_series(1, $2)
        """,
        SYNC_ACCOUNT,
        depth,
    )
    await db.execute("ANALYZE external_events; ANALYZE pgqueuer")
    return account


async def _time(repeat: int, run: Callable[[], Awaitable[Any]]) -> list[float]:
    await run()  # warm: plans cached, pages in memory
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - started)
    return seconds


async def _measure(url: str, depth: int, repeat: int, explain: bool) -> dict[str, list[float]]:
    db = await asyncpg.connect(to_libpq_url(url))
    try:
        account = await _fill(db, depth)
        figures: dict[str, list[float]] = {}
        figures["due orders (50)"] = await _time(
            repeat, lambda: db.fetch(_DUE_ORDERS, account, TYPES, 1.0, 50)
        )
        figures["next due"] = await _time(
            repeat, lambda: db.fetchval(_NEXT_DUE, account, TYPES, 1.0)
        )
        engine = create_engine(url, process_name="bench-queue-depth", pool_size=1)
        sessionmaker = create_sessionmaker(engine)

        async def sweep() -> None:
            async with sessionmaker() as session:
                await ExternalEventRepository.from_session(session).stale_pending_accounts(
                    older_than=datetime.now(UTC) - timedelta(seconds=60), job_prefix=SYNC_ACCOUNT
                )

        figures["sweeper"] = await _time(repeat, sweep)
        counter = iter(range(10**6))

        async def intake() -> None:
            body = _push(depth + 1 + next(counter))
            await ingest_many(db, [Received(parse_push(body), body)], sync_delay=1.0)

        figures["intake, 1 push"] = await _time(repeat, intake)
        queries = Queries(AsyncpgDriver(db))
        manager = QueueManagerId(uuid.uuid4())
        entrypoints = {QueueEntrypoint(SYNC_ACCOUNT): EntrypointExecutionParameter(0)}

        async def dequeue() -> None:
            jobs = await queries.dequeue(
                batch_size=4,
                entrypoints=entrypoints,
                queue_manager_id=manager,
                global_concurrency_limit=8,
                heartbeat_timeout=timedelta(seconds=30),
            )
            await queries.log_jobs([(job, "successful", None) for job in jobs])

        figures["dequeue 4 + complete"] = await _time(repeat, dequeue)
        if explain:
            for name, sql, args in (
                ("due orders", _DUE_ORDERS, (account, TYPES, 1.0, 50)),
                ("next due", _NEXT_DUE, (account, TYPES, 1.0)),
            ):
                plan = await db.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
                print(f"\n  plan of {name} at {depth:,}:")
                for row in plan[:12]:
                    print(f"    {row[0]}")
        await engine.dispose()
        return figures
    finally:
        await db.close()


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _bench(depths: list[int], repeat: int) -> None:
    cluster = await asyncio.to_thread(PgCluster.create)
    try:
        await asyncio.to_thread(upgrade, cluster.url)
        results = {}
        for depth in depths:
            say(f"{depth:,} pending pushes for one account, {depth:,} queued syncs")
            results[depth] = await _measure(cluster.url, depth, repeat, explain=depth == depths[-1])
        print(f"\n{'statement':<24}" + "".join(f"{f'{d:,}: p50 / p90 ms':>26}" for d in depths))
        for name in results[depths[0]]:
            cells = "".join(
                f"{_ms(results[d][name], 0.5):>16.2f} / {_ms(results[d][name], 0.9):>7.2f}"
                for d in depths
            )
            ratio = statistics.median(results[depths[-1]][name]) / statistics.median(
                results[depths[0]][name]
            )
            print(f"{name:<24}{cells}   x{ratio:.1f}")
    finally:
        await asyncio.to_thread(cluster.destroy)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", default="100,100000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    return run_main(lambda: _bench(depths, args.repeat))


if __name__ == "__main__":
    raise SystemExit(main())
