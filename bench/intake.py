"""Intake benchmark: signed Lazada pushes against ``ordersync serve`` wired to the sandbox.

    .venv/bin/python -m bench.intake [--pushes N] [--concurrency C] [--rate R] [--orders-items K]
        [--sellers S] [--client raw|httpx] [--worker separate|inline] [--burst-pushes M]
        [--rounds R]

Everything runs as subprocesses on free 127.0.0.1 ports: the Lazada sandbox, the service (API
and webhook, with the worker as its own process unless ``--worker inline``, on a throw-away
database) and a bare FastAPI endpoint that only answers 200. This process is the load
generator. Orders are spread round-robin over S sellers, because the service paces its Lazada
calls per seller. Phases:

* warm-up: a few pushes to both servers, so that pools and lazy imports are ready;
* A (open loop): N pushes at a fixed rate, then wait until every order line's status is stored;
* B (closed loop): C concurrent senders as fast as they can, against the bare endpoint and then
  against our webhook, with fresh pushes, R times; the ratio of the two medians is our overhead
  (one round lasts about a second, so a single one is at the mercy of the machine's noise).

It is a benchmark, not a test: it prints PASS/FAIL against the targets but exits 0 unless
something crashed.

Modules: ``bench.stack`` starts and stops the servers, ``bench.load`` sends and times the
requests, ``bench.lazada`` makes the sellers, orders and signed pushes, ``bench.drain`` waits
for the stored statuses, ``bench.intake_report`` prints the results.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import say
from bench.cpu import CpuMeter, describe_cpu, wait_quiet
from bench.drain import describe_drain, wait_drained
from bench.intake_report import (
    CLIENT_BOUND_SHARE,
    TARGET_RATE,
    BRound,
    PhaseAResult,
    PhaseBResult,
    count_inboxed,
    describe_rate_limit,
    print_phase_a,
    print_phase_b,
    print_summary,
    push_to_stored,
)
from bench.lazada import Push, connect_sellers, create_pushes
from bench.load import Run, SenderPool, closed_loop, ms, new_pool, open_loop
from bench.stack import Proc, report_log, reset_calls, run_main, sandbox_calls, start_servers

SERVER_GROUPS = ("service", "worker", "postgres", "sandbox", "bare")


# --- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    pushes: int
    concurrency: int
    rate: float
    items: int
    burst_pushes: int
    warmup_pushes: int
    log_level: str
    client: str
    separate_worker: bool
    sellers: int
    rounds: int


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--pushes", type=int, default=3000, help="pushes in phase A (3000)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="in-flight bound, and phase B senders (64)"
    )
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="phase A pushes/s (300)")
    parser.add_argument(
        "--orders-items",
        "--items-per-order",
        dest="items",
        type=int,
        default=3,
        help="order lines per order, one push each (3)",
    )
    parser.add_argument(
        "--burst-pushes", type=int, default=None, help="pushes per server in phase B (= --pushes)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="phase B rounds, bare then ours each time; the medians are compared (5)",
    )
    parser.add_argument("--warmup-pushes", type=int, default=60, help="warm-up pushes (60)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the service's ORDERSYNC_LOG_LEVEL (info, its default)",
    )
    parser.add_argument(
        "--client",
        default="raw",
        choices=["raw", "httpx"],
        help="load generator: a minimal asyncio HTTP/1.1 client (raw, default) or httpx, which "
        "needs ~15x more CPU and so measures itself as much as the servers",
    )
    parser.add_argument(
        "--worker",
        default="separate",
        choices=["separate", "inline"],
        help="separate (default): `serve --no-worker` + `ordersync worker`, as docker-compose "
        "runs them; inline: one `ordersync serve` process doing both",
    )
    parser.add_argument(
        "--sellers",
        type=int,
        default=200,
        help="sellers the orders are spread over (200); the service paces Lazada calls per "
        "seller, so too few sellers measure its rate limit instead of its throughput",
    )
    args = parser.parse_args(argv)
    for name in ("pushes", "concurrency", "items", "warmup_pushes", "sellers", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.rate <= 0:
        parser.error("--rate must be positive")
    burst = args.burst_pushes if args.burst_pushes is not None else args.pushes
    if burst < 1:
        parser.error("--burst-pushes must be at least 1")
    return Options(
        pushes=args.pushes,
        concurrency=args.concurrency,
        rate=args.rate,
        items=args.items,
        burst_pushes=burst,
        warmup_pushes=args.warmup_pushes,
        log_level=args.log_level,
        client=args.client,
        separate_worker=args.worker == "separate",
        sellers=args.sellers,
        rounds=args.rounds,
    )


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """The started world: URLs, clients, the database connection and the CPU meter."""

    options: Options
    sandbox: httpx.AsyncClient
    api: httpx.AsyncClient
    ours: SenderPool
    bare: SenderPool
    db: Any
    accounts: dict[str, uuid.UUID]  # seller id -> account id
    ordersync: list[Proc]  # the service, and the worker when it runs apart
    cpu: CpuMeter


async def warm_up(stack: Stack, pushes: list[Push]) -> None:
    say(f"warming up: {len(pushes)} pushes to each server")
    ours = await closed_loop(stack.ours, pushes)  # every sender: all connections get opened
    await closed_loop(stack.bare, pushes)
    if ours.failed:
        say(f"warm-up had failures against our webhook: {ours.outcomes()}")
    drained = await wait_drained(stack.db, stack.accounts, pushes, 60.0)
    say(describe_drain(drained, len(pushes)))


async def phase_a(stack: Stack, pushes: list[Push]) -> PhaseAResult:
    options = stack.options
    say(
        f"phase A (open loop): {len(pushes)} pushes at {options.rate:.0f}/s, "
        f"at most {options.concurrency} in flight"
    )
    await reset_calls(stack.sandbox)
    settled = await wait_quiet(stack.cpu, SERVER_GROUPS)
    say(f"servers at rest after {settled:.1f}s; sending")
    before = stack.cpu.snapshot()
    run = await open_loop(stack.ours, pushes, options.rate)
    run.cpu = stack.cpu.since(before, run.elapsed)
    say(describe_cpu(run.cpu))
    say("phase A: waiting until every line's status is stored")
    drained = await wait_drained(stack.db, stack.accounts, pushes, 60.0 + len(pushes) / 20)
    calls, by_api = await sandbox_calls(stack.sandbox)
    delays, early = push_to_stored(run, pushes, drained)
    result = PhaseAResult(run, drained, calls, count_inboxed(run, pushes, drained), delays)
    print_phase_a(result, len(pushes), by_api, early)
    return result


async def phase_b(stack: Stack, rounds: list[list[Push]]) -> PhaseBResult:
    options = stack.options
    pushes = [push for round_pushes in rounds for push in round_pushes]
    say(
        f"phase B (closed loop): {len(rounds)} rounds of {len(rounds[0])} pushes, "
        f"{options.concurrency} concurrent senders, against the bare endpoint, then against our "
        "webhook (fresh orders each round)"
    )
    say(
        "note: 2-core machine — the load generator (this process) competes with the servers "
        "for CPU, so both figures are lower bounds and the ratio is what to compare"
    )
    await reset_calls(stack.sandbox)
    done: list[BRound] = []
    for number, round_pushes in enumerate(rounds, start=1):
        say(f"  round {number}/{len(rounds)}")
        bare = await measured(stack, "bare", stack.bare, round_pushes)
        ours = await measured(stack, "ours", stack.ours, round_pushes)
        done.append(BRound(bare, ours, round_pushes))
        if number < len(rounds):
            # Every round starts from rest: the worker must not still be syncing the last one's
            # orders while the next bare run is measured.
            say(f"  round {number}: waiting until its lines are stored")
            deadline = 60.0 + len(round_pushes) / 10
            await wait_drained(stack.db, stack.accounts, round_pushes, deadline)
    say("phase B: waiting until every line's status is stored")
    drained = await wait_drained(stack.db, stack.accounts, pushes, 60.0 + len(pushes) / 10)
    calls, _ = await sandbox_calls(stack.sandbox)
    inboxed = sum(count_inboxed(r.ours, r.pushes, drained) for r in done)
    result = PhaseBResult(done, drained, calls, inboxed)
    print_phase_b(result, len(pushes))
    return result


async def measured(stack: Stack, name: str, pool: SenderPool, pushes: list[Push]) -> Run:
    settled = await wait_quiet(stack.cpu, SERVER_GROUPS)
    say(f"  servers at rest after {settled:.1f}s; measuring {name}")
    before = stack.cpu.snapshot()
    run = await closed_loop(pool, pushes)
    run.cpu = stack.cpu.since(before, run.elapsed)
    say(f"  {name}: {run.rate:.0f} acked/s, p50 {ms(run.latency(50))}, p99 {ms(run.latency(99))}")
    say("  " + describe_cpu(run.cpu))
    if run.cpu.get("bench", 0.0) > CLIENT_BOUND_SHARE:
        say(
            f"  warning: the load generator itself used {run.cpu['bench']:.0%} of a core, so this "
            "figure is bounded by the client as much as by the server (try --client raw)"
        )
    return run


# --- wiring -----------------------------------------------------------------------------------


async def start_stack(options: Options, exits: contextlib.AsyncExitStack) -> Stack:
    servers = await start_servers(
        exits, log_level=options.log_level, separate_worker=options.separate_worker, bare=True
    )
    assert "bare" in servers.urls
    ours = new_pool(options.client, servers.urls["service"], options.concurrency)
    exits.push_async_callback(ours.aclose)
    bare = new_pool(options.client, servers.urls["bare"], options.concurrency)
    exits.push_async_callback(bare.aclose)
    say(f"connecting {options.sellers} sellers (sandbox seller + our account each)")
    accounts = await connect_sellers(servers.sandbox, servers.api, options.sellers)
    return Stack(
        options,
        servers.sandbox,
        servers.api,
        ours,
        bare,
        servers.db,
        accounts,
        servers.ordersync,
        servers.cpu_meter(),
    )


async def bench(options: Options) -> None:
    async with contextlib.AsyncExitStack() as exits:
        say(
            f"starting… pushes={options.pushes} rate={options.rate:g}/s "
            f"concurrency={options.concurrency} lines/order={options.items} "
            f"sellers={options.sellers} client={options.client} worker="
            f"{'separate process' if options.separate_worker else 'in the service process'}"
        )
        stack = await start_stack(options, exits)
        total = options.warmup_pushes + options.pushes + options.burst_pushes * options.rounds
        say(f"creating orders in the sandbox for {total} pushes ({options.items} lines each)")
        sellers = list(stack.accounts)
        warm = await create_pushes(stack.sandbox, sellers, options.warmup_pushes, options.items)
        a_pushes = await create_pushes(stack.sandbox, sellers, options.pushes, options.items)
        b_rounds = [
            await create_pushes(stack.sandbox, sellers, options.burst_pushes, options.items)
            for _ in range(options.rounds)
        ]
        say(describe_rate_limit(options))
        await warm_up(stack, warm)
        a = await phase_a(stack, a_pushes)
        b = await phase_b(stack, b_rounds)
        print_summary(options, a, b, a_pushes)
        for proc in stack.ordersync:
            report_log(proc)
        say("stopping the servers")
    say("done")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    return run_main(lambda: bench(options))


if __name__ == "__main__":
    sys.exit(main())
