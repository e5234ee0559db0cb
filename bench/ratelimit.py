"""What a shared rate-limit token costs: ``python -m bench.ratelimit [--seconds 3]``.

Each scenario runs 1 or 2 processes (this module with ``--child``, each with its own engine and
limiter, as ``ordersync`` processes have), all starting at once, each with ``--callers``
coroutines taking tokens in a loop for ``--seconds``:

* **unlimited**: buckets so large they never say wait, so every acquire is one statement: the
  figures are the statement's cost. One bucket for every caller (they queue on the process's
  gate and on the row's lock), or one bucket per caller (``many``, 200 keys), with or without
  the per-app bucket taken in the same statement.
* **limited**: one bucket at 50 tokens a second shared by 2 x 50 callers: tokens granted against
  the limit, and the statements each token cost (waiting is supposed to be cheap).

Printed per scenario: acquires a second (all processes), latency p50/p99 of one acquire, CPU of
our processes and of their Postgres backends per acquire, and statements per acquire (Postgres'
own commit count for the database). Uses a fresh database on ``DATABASE_URL``'s server, or an
embedded Postgres when it is unset. Not a test: it prints figures and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson
import psutil  # type: ignore[import-untyped,unused-ignore]

from app.db import create_engine, start_embedded_postgres, stop_embedded_postgres, to_libpq_url
from app.integrations.ratelimit import MustWait, RateLimiters
from app.migrate import upgrade
from bench.common import say
from bench.load import percentile
from bench.pg import create_database, drop_database

PROCESS_NAME = "ordersync-ratelimit-bench"
UNLIMITED = (1e9, 1e9)
MANY_KEYS = 200


@dataclass(frozen=True)
class Scenario:
    name: str
    processes: int
    callers: int
    keys: int  # distinct account buckets, callers spread over them
    app: bool  # also take from the app's bucket
    limit: tuple[float, float] = UNLIMITED


SCENARIOS = [
    Scenario("one bucket, 1 caller", 1, 1, 1, False),
    Scenario("one bucket, 1 process x 16", 1, 16, 1, False),
    Scenario("one bucket, 2 processes x 16", 2, 16, 1, False),
    Scenario("many buckets, 1 process x 16", 1, 16, MANY_KEYS, False),
    Scenario("many buckets, 2 processes x 16", 2, 16, MANY_KEYS, False),
    Scenario("many + app bucket, 1 process x 16", 1, 16, MANY_KEYS, True),
    Scenario("many + app bucket, 2 processes x 16", 2, 16, MANY_KEYS, True),
    Scenario("limited 50/s burst 10, 2 processes x 50", 2, 50, 1, False, (50.0, 10.0)),
]


# --- a child process ---------------------------------------------------------------------------


async def child(url: str, scenario: Scenario, seconds: float) -> None:
    engine = create_engine(url, process_name=PROCESS_NAME, pool_size=scenario.callers)
    app_limits = {"lazada": UNLIMITED} if scenario.app else None
    limiters = RateLimiters(engine, {"lazada": scenario.limit}, app_limits)
    buckets = [limiters.bucket("lazada", f"bench-{key}") for key in range(scenario.keys)]
    latencies: list[float] = []
    refused = 0

    async def caller(index: int, until: float) -> None:
        nonlocal refused
        bucket = buckets[index % len(buckets)]
        while time.monotonic() < until:
            started = time.perf_counter()
            try:
                await bucket.acquire(max_wait=30.0)
            except MustWait:
                refused += 1
                continue
            latencies.append(time.perf_counter() - started)

    # Create the rows and open the pool's connections before the clock starts.
    await asyncio.gather(*(bucket.acquire() for bucket in buckets))
    await asyncio.gather(*(caller(i, time.monotonic() + 0.3) for i in range(scenario.callers)))
    latencies.clear()
    _line("ready")
    await asyncio.to_thread(sys.stdin.readline)
    cpu_before, started = time.process_time(), time.monotonic()
    tasks = [asyncio.ensure_future(caller(i, started + seconds)) for i in range(scenario.callers)]
    _, pending = await asyncio.wait(tasks, timeout=seconds + 0.5)
    result = {
        "acquires": len(latencies),
        "refused": refused,
        "cpu_s": time.process_time() - cpu_before,
        "wall_s": time.monotonic() - started,
        "latencies": list(latencies),
    }
    for task in pending:  # callers still waiting for a token: not counted
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    _line(orjson.dumps(result).decode())
    await asyncio.to_thread(sys.stdin.readline)  # the parent reads Postgres' CPU first
    await engine.dispose()


def _line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# --- the parent --------------------------------------------------------------------------------


async def _backends(admin: asyncpg.Connection) -> list[int]:
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1", PROCESS_NAME
    )
    return [row["pid"] for row in rows]


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


async def _commits(admin: asyncpg.Connection) -> int:
    # The statistics are sent at the end of each transaction, batched every second or so.
    await admin.execute("SELECT pg_stat_clear_snapshot()")
    value = await admin.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(value)


async def run(url: str, scenario: Scenario, seconds: float) -> None:
    admin = await asyncpg.connect(to_libpq_url(url))
    await admin.execute("TRUNCATE rate_limit_buckets")
    args = [sys.executable, "-m", "bench.ratelimit", "--child", "--url", url]
    args += ["--scenario", scenario.name, "--seconds", str(seconds)]
    children = [
        await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26
        )
        for _ in range(scenario.processes)
    ]
    try:
        for process in children:
            assert process.stdout is not None
            said = await asyncio.wait_for(process.stdout.readline(), 120)
            if said.strip() != b"ready":
                raise RuntimeError(f"child said {said!r}")
        pids = await _backends(admin)
        pg_before, commits_before = _cpu(pids), await _commits(admin)
        for process in children:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        results = []
        for process in children:
            assert process.stdout is not None
            results.append(orjson.loads(await process.stdout.readline()))
        pg_cpu = _cpu(pids) - pg_before
        await asyncio.sleep(1.0)  # let the last statistics reach pg_stat_database
        commits = await _commits(admin) - commits_before
        for process in children:
            assert process.stdin is not None
            process.stdin.write(b"exit\n")
            await process.stdin.drain()
            await process.wait()
    finally:
        for process in children:
            if process.returncode is None:
                process.kill()
                await process.wait()
        await admin.close()
    acquires = sum(r["acquires"] for r in results)
    latencies = [v for r in results for v in r["latencies"]]
    wall = max(r["wall_s"] for r in results)
    ours = sum(r["cpu_s"] for r in results)
    per = max(acquires, 1)
    line = (
        f"{scenario.name:44s} {acquires / wall:8.0f}/s  p50 {percentile(latencies, 50) * 1e3:6.2f}"
        f" ms  p99 {percentile(latencies, 99) * 1e3:6.2f} ms  CPU/acquire: ours "
        f"{ours / per * 1e6:4.0f} us, Postgres {pg_cpu / per * 1e6:4.0f} us  "
        f"statements/acquire {commits / per:4.2f}"
    )
    if scenario.limit != UNLIMITED:
        rate, burst = scenario.limit
        line += f"  (limit allows {burst + rate * wall:.0f} in {wall:.1f} s, got {acquires})"
    say(line)


@contextlib.asynccontextmanager
async def database() -> AsyncIterator[str]:
    configured = os.environ.get("DATABASE_URL")
    if configured:
        url, name = await create_database(configured)
        try:
            yield url
        finally:
            await drop_database(configured, name)
        return
    with tempfile.TemporaryDirectory(prefix="ordersync-bench-") as tmp:
        url = await asyncio.to_thread(start_embedded_postgres, Path(tmp), cleanup="delete")
        try:
            yield url
        finally:
            await asyncio.to_thread(stop_embedded_postgres, Path(tmp))


async def main(seconds: float, names: list[str] | None) -> None:
    async with database() as url:
        await asyncio.to_thread(upgrade, url)
        say(f"{os.cpu_count()} cores; each scenario {seconds:g} s")
        for scenario in SCENARIOS:
            if names is None or scenario.name in names:
                await run(url, scenario, seconds)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--scenario", action="append", help="run only these (by name)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (scenario,) = [s for s in SCENARIOS if s.name == args.scenario[0]]
        asyncio.run(child(args.url, scenario, args.seconds))
    else:
        asyncio.run(main(args.seconds, args.scenario))


if __name__ == "__main__":
    cli()
