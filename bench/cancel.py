"""Cancellation benchmark: cancellations/s and marketplace calls per cancellation, per marketplace.

``POST /v1/accounts/{id}/orders/{order_id}/cancellations`` against the Lazada, Shoplazza and
Newegg sandboxes.

    .venv/bin/python -m bench.cancel [--cancellations N] [--concurrency C] [--per-account K]
        [--lazada-items I] [--warmup W] [--client raw|httpx] [--marketplaces lazada,...]

It starts ``ordersync sandbox`` (all three stand-ins) and ``ordersync serve`` (API, webhook and
worker in one process, on a throw-away database), on free 127.0.0.1 ports (``bench.stack``).
For each marketplace it connects N/K accounts through ``POST /v1/accounts`` and creates N
cancellable orders in the sandbox, round-robin over them (``bench.cancel_seed``). Then:

* warm-up: W cancellations on accounts of their own, not counted;
* cancel pass: the N cancellations (a unique Idempotency-Key each) by C concurrent senders;
  then it waits until the follow-up work is done (Lazada pushes a notification per cancelled
  item, and the service syncs the order again) and reads the sandbox's ``/_sandbox/calls``;
* replay pass: the same N requests again, same keys: each must answer 200 with the first
  result and make no marketplace call.

It is a benchmark, not a test: it prints the figures and PASS/FAIL checks, and exits 0 unless
something crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import orjson
import psutil  # type: ignore[import-untyped,unused-ignore]

from app.integrations.ratelimit import LIMITS
from bench.cancel_report import (
    Pass,
    Result,
    describe_calls,
    describe_pacing,
    describe_pass,
    print_summary,
)
from bench.cancel_seed import MARKETPLACES, CancelRequest, Seeded, seed
from bench.common import expect, say
from bench.cpu import CpuMeter, describe_cpu, wait_quiet
from bench.drain import ACTIVE_JOBS_SQL
from bench.load import Progress, SenderPool, closed_loop, new_pool
from bench.stack import (
    Servers,
    report_log,
    reset_calls,
    run_main,
    sandbox_calls,
    start_servers,
)

QUIET_GROUPS = ("service", "postgres", "sandbox")
IDLE_DEADLINE_S = 120.0  # for the follow-up work after a pass
PROGRESS_EVERY_S = 5.0
STALL_S = 3.0  # pushes pending this long with no job queued wait for the sweeper
_PENDING_PUSHES_SQL = (
    "SELECT count(*) FROM external_events WHERE state = 'pending' AND received_at >= $1"
)
_OLDEST_PENDING_SQL = """
SELECT id, external_order_id, external_line_id, attempts, last_error,
       extract(epoch FROM clock_timestamp() - received_at)::float8 AS age
FROM external_events WHERE state = 'pending' AND received_at >= $1 ORDER BY id LIMIT 3
"""


@dataclass(frozen=True)
class Options:
    cancellations: int
    concurrency: int
    per_account: int
    lazada_items: int
    warmup: int
    client: str
    marketplaces: tuple[str, ...]
    log_level: str

    def accounts(self, orders: int) -> int:
        return math.ceil(orders / self.per_account)


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cancel", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--cancellations", type=int, default=300, help="cancellations per marketplace (300)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent senders (16)")
    parser.add_argument(
        "--per-account",
        type=int,
        default=2,
        help="orders per account (2): the service paces marketplace calls per account "
        "(Shoplazza 2/s with a burst of 1), so few accounts measure the pacing instead",
    )
    parser.add_argument(
        "--lazada-items", type=int, default=3, help="pending items per Lazada order (3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="warm-up cancellations per marketplace (= C)"
    )
    parser.add_argument(
        "--client",
        default="raw",
        choices=["raw", "httpx"],
        help="load generator: the minimal asyncio HTTP/1.1 client (default) or httpx",
    )
    parser.add_argument(
        "--marketplaces",
        default=",".join(MARKETPLACES),
        help="comma-separated, in this order (lazada,shoplazza,newegg)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the service's ORDERSYNC_LOG_LEVEL (info, its default)",
    )
    args = parser.parse_args(argv)
    for name in ("cancellations", "concurrency", "per_account", "lazada_items"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    warmup = args.warmup if args.warmup is not None else args.concurrency
    if warmup < 0:
        parser.error("--warmup must be at least 0")
    chosen = tuple(m.strip() for m in args.marketplaces.split(",") if m.strip())
    if not chosen or any(m not in MARKETPLACES for m in chosen):
        parser.error(f"--marketplaces: choose from {', '.join(MARKETPLACES)}")
    return Options(
        cancellations=args.cancellations,
        concurrency=args.concurrency,
        per_account=args.per_account,
        lazada_items=args.lazada_items,
        warmup=warmup,
        client=args.client,
        marketplaces=chosen,
        log_level=args.log_level,
    )


@dataclass
class World:
    options: Options
    servers: Servers
    sandboxes: dict[str, httpx.AsyncClient]  # marketplace -> its sandbox's control API
    pool: SenderPool
    cpu: CpuMeter


async def lazada_pushes(world: World) -> tuple[int, int]:
    """(pushes sent, pushes acked) by the Lazada sandbox so far. Reading them waits until the
    sandbox has sent those its REST calls caused (it sends them after answering)."""
    response = await world.sandboxes["lazada"].get("/_sandbox/pushes")
    expect(response, 200, "read the Lazada sandbox's pushes")
    deliveries = response.json()
    return len(deliveries), sum(1 for d in deliveries if d["acked"])


async def db_now(world: World) -> datetime:
    now: datetime = await world.servers.db.fetchval("SELECT clock_timestamp()")
    return now


async def wait_idle(world: World, since: datetime) -> tuple[float, int]:
    """Wait until the follow-up work is done: no push spooled or pending in the inbox (of
    those received since ``since``) and no job queued, three polls in a row. Pushes left
    pending with no job queued for STALL_S are waiting for the sweeper (``ORDERSYNC_SWEEP_AGE``,
    60 s): it stops waiting and counts them. Returns the seconds waited and that count."""
    started = time.monotonic()
    next_report = started + PROGRESS_EVERY_S
    db = world.servers.db
    calm = 0
    last: tuple[int, int, int] | None = None
    last_change = started
    while True:
        ready = await world.servers.api.get("/readyz")
        spooled = int(ready.json().get("spool_depth", 0)) if ready.status_code == 200 else -1
        pending = int(await db.fetchval(_PENDING_PUSHES_SQL, since))
        active = int(await db.fetchval(ACTIVE_JOBS_SQL))
        now = time.monotonic()
        if (spooled, pending, active) != last:
            last, last_change = (spooled, pending, active), now
        calm = calm + 1 if last == (0, 0, 0) else 0
        if calm >= 3:
            return now - started, 0
        if spooled == 0 and active == 0 and now - last_change > STALL_S:
            say(
                f"  {pending} pushes still pending with no job queued for {STALL_S:.0f}s: they "
                "wait for the sweeper (ORDERSYNC_SWEEP_AGE, 60 s); not waiting for it"
            )
            await _show_pending(db, since)
            return now - started, pending
        if now - started > IDLE_DEADLINE_S:
            say(f"  still busy after {IDLE_DEADLINE_S:.0f}s: counting the calls anyway")
            await _show_pending(db, since)
            return now - started, pending
        if now >= next_report:
            say(
                f"  … follow-up work: {spooled} pushes spooled, {pending} pending in the inbox, "
                f"{active} jobs queued or running"
            )
            next_report += PROGRESS_EVERY_S
        await asyncio.sleep(0.2)


async def _show_pending(db: Any, since: datetime) -> None:
    """The first pushes still pending."""
    for row in await db.fetch(_OLDEST_PENDING_SQL, since):
        say(
            f"    pending: event {row['id']} order {row['external_order_id']} line "
            f"{row['external_line_id']}, received {row['age']:.1f}s ago, attempts "
            f"{row['attempts']}, last error {row['last_error']!r}"
        )


async def run_pass(
    world: World, marketplace: str, requests: Sequence[CancelRequest], name: str, ok: int
) -> Pass:
    """Send ``requests`` with C senders; wait for the follow-up work; read the calls."""
    sandbox = world.sandboxes[marketplace]
    settled = await wait_quiet(world.cpu, QUIET_GROUPS)
    await reset_calls(sandbox)
    say(f"{marketplace}: {name}: {len(requests)} requests, {world.options.concurrency} at a time")
    say(f"  servers at rest after {settled:.1f}s")
    progress = Progress()
    ticker = asyncio.create_task(_tick(marketplace, progress, len(requests)))
    since = await db_now(world)
    before, busy_before = world.cpu.snapshot(), _busy_cpu_s()
    try:
        run = await closed_loop(world.pool, requests, progress)
    finally:
        ticker.cancel()
    run.cpu = world.cpu.since(before, run.elapsed)
    # Everything else on the machine (e.g. someone's test run): total busy CPU minus ours.
    busy = (_busy_cpu_s() - busy_before) / run.elapsed
    run.cpu["other"] = max(0.0, busy - sum(run.cpu.values()))
    run.ok_status = ok
    say(f"  {describe_pass(run)}")
    say(f"  {describe_cpu(run.cpu)}")
    idle_s, stuck = await wait_idle(world, since)
    calls, by_api = await sandbox_calls(sandbox)
    say(f"  follow-up work done {idle_s:.1f}s after the last answer; {calls} {marketplace} calls")
    return Pass(run, calls, by_api, idle_s, stuck)


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy (all cores)."""
    times = psutil.cpu_times()
    fields = ("user", "nice", "system", "irq", "softirq", "steal")  # guest is inside user
    return float(sum(getattr(times, name, 0.0) for name in fields))


async def _tick(marketplace: str, progress: Progress, total: int) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        say(f"  … {marketplace}: {progress.answered}/{total} answered")


def same_answers(first: Pass, replay: Pass) -> int:
    """Replays that answered with the first answer's cancellation id."""
    same = 0
    for a, b in zip(first.run.samples, replay.run.samples, strict=True):
        with contextlib.suppress(orjson.JSONDecodeError, TypeError, KeyError):
            same += orjson.loads(a.content)["id"] == orjson.loads(b.content)["id"]
    return same


def resyncs(done: Pass) -> int:
    """Lazada cancellations whose in-request re-sync of the order succeeded (their steps)."""
    count = 0
    for sample in done.run.samples:
        with contextlib.suppress(orjson.JSONDecodeError, TypeError, KeyError):
            steps = orjson.loads(sample.content)["steps"]
            count += any(s["name"] == "lazada.resync" and s["ok"] for s in steps)
    return count


async def bench_marketplace(world: World, marketplace: str) -> Result:
    options = world.options
    sandbox, api, token = world.sandboxes[marketplace], world.servers.api, world.servers.api_token
    n, accounts = options.cancellations, options.accounts(options.cancellations)
    items = options.lazada_items
    detail = f" ({items} pending items each)" if marketplace == "lazada" else ""
    say(f"{marketplace}: seeding {accounts} accounts and {n} orders{detail}")
    seeded = await seed(marketplace, sandbox, api, token, orders=n, accounts=accounts, items=items)
    warm_stuck = 0
    if options.warmup:
        warm_accounts = options.accounts(options.warmup)
        warm: Seeded = await seed(
            marketplace,
            sandbox,
            api,
            token,
            orders=options.warmup,
            accounts=warm_accounts,
            items=items,
            first=accounts,
        )
        say(f"{marketplace}: warm-up: {options.warmup} cancellations on accounts of their own")
        since = await db_now(world)
        warm_run = await closed_loop(world.pool, warm.requests)
        warm_run.ok_status = 201
        if warm_run.failed:
            say(f"  warm-up outcomes: {warm_run.outcomes()}")
        _, stuck = await wait_idle(world, since)
        warm_stuck = stuck
    pushes_before = await lazada_pushes(world) if marketplace == "lazada" else (0, 0)
    first = await run_pass(world, marketplace, seeded.requests, "cancel pass", 201)
    pushes_after = await lazada_pushes(world) if marketplace == "lazada" else (0, 0)
    result = Result(
        marketplace,
        len(seeded.accounts),
        first,
        pushes=pushes_after[0] - pushes_before[0],
        pushes_acked=pushes_after[1] - pushes_before[1],
        resyncs=resyncs(first) if marketplace == "lazada" else 0,
        warmup_stuck=warm_stuck,
    )
    for line in describe_calls(result):
        say(f"  {line}")
    result.pacing = describe_pacing(result, n, LIMITS[marketplace])
    say(f"  {result.pacing}")
    result.replay = await run_pass(world, marketplace, seeded.requests, "replay pass", 200)
    result.same_ids = same_answers(first, result.replay)
    say(f"  same cancellation id as the first answer: {result.same_ids}/{n}")
    return result


async def bench(options: Options) -> None:
    async with contextlib.AsyncExitStack() as exits:
        say(
            f"starting… cancellations={options.cancellations} per marketplace "
            f"({', '.join(options.marketplaces)}), concurrency={options.concurrency}, "
            f"orders per account={options.per_account}, warm-up={options.warmup}, "
            f"client={options.client}, worker in the service process"
        )
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        say(f"machine: {os.cpu_count()} cores, load average (1, 5, 15 min) {load}")
        servers = await start_servers(exits, log_level=options.log_level)
        sandboxes = {"lazada": servers.sandbox}
        for name in ("shoplazza", "newegg"):
            sandboxes[name] = await exits.enter_async_context(
                httpx.AsyncClient(base_url=servers.urls[name], timeout=30)
            )
        pool = new_pool(options.client, servers.urls["service"], options.concurrency)
        exits.push_async_callback(pool.aclose)
        world = World(options, servers, sandboxes, pool, servers.cpu_meter())
        results = [await bench_marketplace(world, m) for m in options.marketplaces]
        print_summary(options.cancellations, options.concurrency, options.per_account, results)
        for proc in servers.ordersync:
            report_log(proc)
        say("stopping the servers")
    say("done")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    return run_main(lambda: bench(options))


if __name__ == "__main__":
    sys.exit(main())
