"""Mega-sale benchmark: a minute of sustained, open-loop pushes, then the drain.

    .venv/bin/python -m bench.megasale [--scenario one-seller|many-sellers|max-rate|scale-out|
        intake-ratio ...] [--layout split|inline|both] [--seconds 60] [--latency-ms 100]

The sandboxes and the service run as subprocesses (``bench.stack``), the worker in its own
process as docker-compose runs it (``split``) or inside ``ordersync serve`` (``inline``). Lazada's
stand-in answers after ``--latency-ms`` (a realistic round trip to its gateways). The orders of
the sale are seeded ahead, each placed at the moment its pushes go out (the sandbox shows an
order only from its ``created_at`` on), 3 lines each, and the pushes are sent at a steady rate.

Scenarios:

* ``one-seller``: 50 orders/s for one seller, under the per-seller limit (10 calls/s);
* ``many-sellers``: 300 orders/s over 200 sellers;
* ``max-rate``: the highest rate (200 sellers) at which p99 push → stored stays under 10 s,
  found step by step, for each layout;
* ``scale-out``: the 200-seller load with 1, 2 and 4 worker processes;
* ``intake-ratio``: closed-loop intake against a bare endpoint while the worker drains a backlog.

For each run: ack p50/p99, push → item status stored p50/p99 during the load, the backlog at the
end of the load, the time to drain it, Lazada calls per order, and the most calls one seller got
in any one second (as the sandbox counted them). A benchmark, not a test: it prints the targets
met or missed and exits 0 unless something crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from app.integrations.lazada.signing import push_signature
from bench.common import expect, say
from bench.cpu import describe_cpu
from bench.drain import read_progress, wait_drained
from bench.lazada import Push, connect_sellers
from bench.load import Run, closed_loop, new_pool, open_loop, percentile
from bench.stack import APP_KEY, APP_SECRET, Servers, reset_calls, run_main, start_servers

ITEMS = 3
SETUP_LEAD_S = 3.0  # the first orders are placed this long after seeding ends
MAX_P99_STORED_S = 10.0


@dataclass(frozen=True)
class Load:
    sellers: int
    orders_per_second: float
    seconds: float

    @property
    def orders(self) -> int:
        return math.ceil(self.orders_per_second * self.seconds)


@dataclass
class Result:
    name: str
    layout: str
    workers: int
    load: Load
    run: Run
    stored_p50: float
    stored_p99: float
    backlog_at_end: int
    drain_s: float
    drained: bool
    calls: int
    calls_by_api: dict[str, int]
    max_seller_calls_per_second: int | None

    @property
    def calls_per_order(self) -> float:
        return self.calls / max(1, self.load.orders)


async def _seed(servers: Servers, load: Load) -> tuple[list[Push], dict[str, uuid.UUID], float]:
    """Sellers connected, the sale's orders placed ahead in the sandbox: their pushes, in the
    order they go out, and the wall-clock second the first order is placed at."""
    accounts = await connect_sellers(servers.sandbox, servers.api, load.sellers)
    start = math.ceil(time.time() + SETUP_LEAD_S + load.sellers * 0.02)
    first = datetime.fromtimestamp(start, UTC)
    last = datetime.fromtimestamp(start + load.seconds, UTC)
    per_seller = math.ceil(load.orders / load.sellers)
    pushes: list[tuple[int, int, Push]] = []
    for index, seller_id in enumerate(accounts):
        response = await servers.sandbox.post(
            "/_sandbox/orders/bulk",
            json={
                "seller_id": seller_id,
                "count": per_seller,
                "items_per_order": ITEMS,
                "created_at_from": first.isoformat(),
                "created_at_to": last.isoformat(),
                "pushes": True,
            },
        )
        expect(response, 200, "place the sale's orders")
        for body_text in response.json()["pushes"]:
            body = body_text.encode()
            data = orjson.loads(body)["data"]
            signature = push_signature(APP_KEY, APP_SECRET, body)
            push = Push(data["trade_order_id"], data["trade_order_line_id"], body, signature)
            pushes.append((int(data["status_update_time"]), index, push))
    pushes.sort(key=lambda entry: (entry[0], entry[1]))
    return [push for _, _, push in pushes], accounts, float(start)


async def _max_seller_calls(servers: Servers) -> int | None:
    """The most calls one seller got in any one second, if the sandbox counts that."""
    calls = (await servers.sandbox.get("/_sandbox/calls")).json()
    per_second = calls.get("max_per_second_by_seller")
    if not isinstance(per_second, dict) or not per_second:
        return None
    return max(int(value) for value in per_second.values())


async def _pending(servers: Servers) -> int:
    return int(
        await servers.db.fetchval("SELECT count(*) FROM external_events WHERE state = 'pending'")
    )


async def run_load(
    name: str,
    load: Load,
    *,
    layout: str,
    workers: int = 1,
    latency_ms: int,
    settings: dict[str, str] | None = None,
) -> Result:
    async with contextlib.AsyncExitStack() as exits:
        servers = await start_servers(
            exits,
            log_level="info",
            separate_worker=layout == "split",
            workers=workers,
            settings=settings,
        )
        expect(
            await servers.sandbox.put("/_sandbox/faults", json={"latency_ms": latency_ms}),
            200,
            "set the sandbox's latency",
        )
        say(f"{name}: seeding {load.orders} orders over {load.sellers} sellers")
        pushes, accounts, start = await _seed(servers, load)
        await reset_calls(servers.sandbox)
        pool = new_pool("raw", servers.urls["service"], 256)
        exits.push_async_callback(pool.aclose)
        # Each order's pushes go out just after it is placed (its created_at's second).
        await asyncio.sleep(max(0.0, start + 0.5 - time.time()))
        rate = len(pushes) / load.seconds
        say(f"{name}: {len(pushes)} pushes at {rate:.0f}/s for {load.seconds:.0f}s ({layout})")
        cpu = servers.cpu_meter()
        before = cpu.snapshot()
        run = await open_loop(pool, pushes, rate)
        run.cpu = cpu.since(before, run.elapsed)
        backlog = await _pending(servers)
        say(f"{name}: load over, {backlog} pushes pending; draining")
        drained = await wait_drained(servers.db, accounts, pushes, 600.0)
        order_ids = sorted({push.order_id for push in pushes})
        stored, _, _ = await read_progress(servers.db, accounts, order_ids)
        latencies = [
            max(0.0, stored[push.key] - sample.sent_at)
            for push, sample in zip(pushes, run.samples, strict=True)
            if push.key in stored
        ]
        total_calls = (await servers.sandbox.get("/_sandbox/calls")).json()
        return Result(
            name=name,
            layout=layout,
            workers=workers,
            load=load,
            run=run,
            stored_p50=statistics.median(latencies) if latencies else math.nan,
            stored_p99=percentile(latencies, 99),
            backlog_at_end=backlog,
            drain_s=drained.waited_s,
            drained=drained.complete,
            calls=int(total_calls["total"]),
            calls_by_api=dict(total_calls["by_api"]),
            max_seller_calls_per_second=await _max_seller_calls(servers),
        )


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def report(result: Result) -> None:
    load, run = result.load, result.run
    print(
        f"\n== {result.name} ({result.layout}, {result.workers} worker process(es)): "
        f"{load.orders_per_second:g} orders/s over {load.sellers} seller(s) for {load.seconds:g}s"
    )
    print(
        f"  pushes: {len(run.samples)} sent, {len(run.acked)} acked, ack p50 "
        f"{_ms(run.latency(50))}, p99 {_ms(run.latency(99))}; max lag {_ms(run.max_lag)}"
    )
    print(f"  CPU during the load (share of one core): {describe_cpu(run.cpu)}")
    print(
        f"  push -> item status stored: p50 {result.stored_p50:.2f} s, p99 "
        f"{result.stored_p99:.2f} s; backlog at the end of the load {result.backlog_at_end} "
        f"pushes; drained {result.drain_s:.1f} s later"
        + ("" if result.drained else " (NOT COMPLETE)")
    )
    seller_max = result.max_seller_calls_per_second
    print(
        f"  Lazada calls: {result.calls} = {result.calls_per_order:.3f} per order "
        f"({result.calls_per_order / ITEMS:.3f} per push); by API {result.calls_by_api}; "
        f"most calls to one seller in a second: {seller_max if seller_max is not None else 'n/a'}"
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


async def _one_seller(layouts: Sequence[str], seconds: float, latency_ms: int) -> None:
    for layout in layouts:
        result = await run_load(
            "one-seller", Load(1, 50, seconds), layout=layout, latency_ms=latency_ms
        )
        report(result)
        print(
            f"  targets: p99 stored <= 10 s {verdict(result.stored_p99 <= 10)}; drained within "
            f"10 s {verdict(result.drain_s <= 10)}; <= 0.1 calls per push "
            f"{verdict(result.calls_per_order / ITEMS <= 0.1)}"
        )


async def _many_sellers(layouts: Sequence[str], seconds: float, latency_ms: int) -> None:
    for layout in layouts:
        result = await run_load(
            "many-sellers", Load(200, 300, seconds), layout=layout, latency_ms=latency_ms
        )
        report(result)
        print(
            f"  targets: p99 stored <= 5 s {verdict(result.stored_p99 <= 5)}; ack p99 <= 50 ms "
            f"{verdict(result.run.latency(99) <= 0.05)}"
        )


async def _max_rate(layouts: Sequence[str], seconds: float, latency_ms: int) -> None:
    steps = (100, 200, 300, 400, 600, 800)
    for layout in layouts:
        best: float | None = None
        for rate in steps:
            result = await run_load(
                f"max-rate {rate}/s", Load(200, rate, seconds), layout=layout, latency_ms=latency_ms
            )
            report(result)
            if result.stored_p99 > MAX_P99_STORED_S or not result.drained:
                break
            best = rate
        print(f"\n  highest sustained rate ({layout}) with p99 stored <= 10 s: {best} orders/s")


async def _scale_out(seconds: float, latency_ms: int) -> None:
    for workers in (1, 2, 4):
        result = await run_load(
            "scale-out",
            Load(200, 300, seconds),
            layout="split",
            workers=workers,
            latency_ms=latency_ms,
        )
        report(result)
        synced = result.load.orders / max(1e-9, result.load.seconds + result.drain_s)
        print(f"  {workers} worker(s): {synced:.0f} orders synced per second over load + drain")


async def _intake_ratio(rounds: int) -> None:
    """Closed-loop rounds, bare endpoint then ours, while the worker drains a backlog."""
    async with contextlib.AsyncExitStack() as exits:
        servers = await start_servers(exits, log_level="info", separate_worker=True, bare=True)
        load = Load(200, 600, 30)
        pushes, _, start = await _seed(servers, load)
        await asyncio.sleep(max(0.0, start + load.seconds + 1 - time.time()))  # all placed
        backlog_pool = new_pool("raw", servers.urls["service"], 64)
        exits.push_async_callback(backlog_pool.aclose)
        say(f"intake-ratio: a backlog of {len(pushes)} pushes, then {rounds} rounds")
        await closed_loop(backlog_pool, pushes[: len(pushes) // 2])
        probes = pushes[len(pushes) // 2 :]
        bare = new_pool("raw", servers.urls["bare"], 64)
        ours = new_pool("raw", servers.urls["service"], 64)
        exits.push_async_callback(bare.aclose)
        exits.push_async_callback(ours.aclose)
        per_round = len(probes) // rounds
        ratios = []
        for n in range(rounds):
            batch = probes[n * per_round : (n + 1) * per_round]
            pending = await _pending(servers)
            bare_run = await closed_loop(bare, batch)
            ours_run = await closed_loop(ours, batch)
            ratios.append(ours_run.rate / bare_run.rate)
            say(
                f"  round {n + 1}: ours {ours_run.rate:.0f} vs bare {bare_run.rate:.0f} req/s "
                f"= {ratios[-1]:.2f}x, with {pending} pushes waiting for the worker"
            )
        median = statistics.median(ratios)
        print(
            f"\n== intake-ratio: median {median:.2f}x the bare endpoint with the worker syncing "
            f"(target >= 0.5x: {verdict(median >= 0.5)})"
        )


async def _bench(args: argparse.Namespace) -> None:
    layouts = ("split", "inline") if args.layout == "both" else (args.layout,)
    for scenario in args.scenario or ["one-seller", "many-sellers"]:
        if scenario == "one-seller":
            await _one_seller(layouts, args.seconds, args.latency_ms)
        elif scenario == "many-sellers":
            await _many_sellers(layouts, args.seconds, args.latency_ms)
        elif scenario == "max-rate":
            await _max_rate(layouts, min(args.seconds, 30), args.latency_ms)
        elif scenario == "scale-out":
            await _scale_out(args.seconds, args.latency_ms)
        elif scenario == "intake-ratio":
            await _intake_ratio(args.rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--scenario",
        action="append",
        choices=["one-seller", "many-sellers", "max-rate", "scale-out", "intake-ratio"],
    )
    parser.add_argument("--layout", choices=["split", "inline", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    return run_main(lambda: _bench(args))


if __name__ == "__main__":
    raise SystemExit(main())
