"""The fault matrix as a benchmark: signed pushes at a steady rate while Postgres is crashed,
stopped or hung, the service process is killed, and the worker is caught mid-sync.

    .venv/bin/python -m bench.faults [--rate 300] [--scenario NAME ...] [--sellers 50]

For each scenario it prints the pushes sent, acked, stored and synced, the ack p99 and max
during the outage, the time from Postgres back to an empty spool, and the time to every order
synced. It is a benchmark, not a test (``tests/faults/test_matrix.py`` runs the same scenarios at
40 pushes/s and asserts): it exits 0 unless something crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bench.common import BenchError, expect, say
from bench.faultworld import Deliverer, Deliveries, EndState, World, open_world
from bench.stack import run_main

LEAD_S = 3.0  # pushes flow this long before the fault
TAIL_S = 5.0  # and this long after recovery
CONVERGE_S = 240.0


@dataclass
class Outcome:
    scenario: str
    layout: str
    rate: float
    deliveries: Deliveries
    end: EndState
    fault_at: float  # wall clock
    back_at: float  # wall clock: Postgres (or the proxy, or the service) answering again
    spool_empty_s: float  # from back_at
    synced_s: float  # from back_at: every line stored and synced, nothing pending
    same_processes: bool  # no service or worker process restarted (unless the scenario does)
    notes: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.deliveries.items)

    @property
    def acked(self) -> int:
        return sum(1 for d in self.deliveries.items if d.acked)


Fault = Callable[[World], Awaitable[list[str]]]


async def crash(world: World, seconds: float) -> list[str]:
    """``pg_ctl stop -m immediate``: a crash, as a failover or an OOM kill looks."""
    await world.crash_postgres()
    await asyncio.sleep(seconds)
    await world.start_postgres()
    return []


async def stop(world: World, seconds: float) -> list[str]:
    """``pg_ctl stop -m fast`` for longer than the job heartbeat and connection timeouts."""
    await world.stop_postgres()
    await asyncio.sleep(seconds)
    await world.start_postgres()
    return []


async def hang(world: World, seconds: float) -> list[str]:
    """Postgres accepts TCP but answers nothing (the proxy holds every byte)."""
    assert world.proxy is not None
    world.proxy.pause()
    await asyncio.sleep(seconds)
    world.proxy.resume()
    return []


async def crash_mid_sync(world: World) -> list[str]:
    """Postgres crashes while syncs wait on slow Lazada answers (1 s a call, 2 calls a sync):
    their fetches end while it is still down, so storing them fails; they must wait, run again
    without spending an attempt, and leave nothing half-written."""
    faults = await world.sandbox.put("/_sandbox/faults", json={"latency_ms": 1000})
    expect(faults, 200, "slow the sandbox down")
    await world.wait_syncs_in_flight(within=30)
    await world.crash_postgres()
    await asyncio.sleep(4)
    await world.start_postgres()
    expect(await world.sandbox.put("/_sandbox/faults", json={"latency_ms": 0}), 200, "speed up")
    return []


async def kill_service_with_spool(world: World) -> list[str]:
    """Postgres stops; pushes pile up in the spool; the API process is SIGKILLed; Postgres
    comes back; the service is started again over the spool it left."""
    await world.stop_postgres()
    deadline = time.monotonic() + 30
    while world.spool_files() < 20:
        if time.monotonic() > deadline:
            raise BenchError("nothing was spooled while Postgres was down")
        await asyncio.sleep(0.05)
    held = world.spool_files()
    world.kill_service()
    await world.start_postgres()
    await world.start_service()
    return [f"{held}+ pushes in the spool when the service was killed"]


@dataclass(frozen=True)
class Scenario:
    name: str
    layout: str  # inline: serve with its worker; split: serve --no-worker + ordersync worker
    fault: Fault
    outage_s: float  # how long the fault lasts, for the push schedule
    through_proxy: bool = False
    restarts_service: bool = False


def _scenarios() -> list[Scenario]:
    out = []
    for layout in ("inline", "split"):
        out += [
            Scenario(f"crash-3s-{layout}", layout, lambda w: crash(w, 3), 3),
            Scenario(f"stop-40s-{layout}", layout, lambda w: stop(w, 40), 40),
        ]
    out += [
        Scenario("crash-mid-sync", "inline", crash_mid_sync, 8),
        Scenario(
            "kill-service-with-spool", "inline", kill_service_with_spool, 10, restarts_service=True
        ),
        Scenario("hang-10s", "inline", lambda w: hang(w, 10), 10, through_proxy=True),
    ]
    return out


SCENARIOS = {scenario.name: scenario for scenario in _scenarios()}


async def run_scenario(
    scenario: Scenario,
    *,
    rate: float,
    sellers: int,
    settings: dict[str, str] | None = None,
) -> Outcome:
    """Open a world, push throughout the fault, and wait for the end state."""
    world = await open_world(
        layout=scenario.layout,
        through_proxy=scenario.through_proxy,
        sellers=sellers,
        settings=settings,
    )
    try:
        return await run_in(world, scenario, rate=rate)
    finally:
        await world.close()


async def run_in(world: World, scenario: Scenario, *, rate: float) -> Outcome:
    """Push throughout ``scenario``'s fault in ``world`` and wait for the end state."""
    duration = LEAD_S + scenario.outage_s + TAIL_S
    pushes = await world.make_pushes(math.ceil(rate * duration / world.items_per_order))
    # Lazada repeats some pushes: a few of the early ones come again late.
    pushes = pushes + pushes[: max(1, len(pushes) // 50)]
    pids = world.pids()
    deliverer = Deliverer(world.urls["service"])
    try:
        sending = asyncio.create_task(deliverer.run(pushes, rate))
        await asyncio.sleep(LEAD_S)
        say(f"{scenario.name}: fault")
        fault_at = time.time()
        notes = await scenario.fault(world)
        back_at = time.time()
        say(f"{scenario.name}: recovered after {back_at - fault_at:.1f}s")
        spool_watch = asyncio.create_task(world.wait_spool_empty(since=back_at))
        deliveries = await sending
        say(f"{scenario.name}: {len(pushes)} pushes sent; waiting for the end state")
        end, _ = await world.wait_converged(pushes, CONVERGE_S)
        synced_s = time.time() - back_at
        if not end.converged:
            notes.append("not converged:\n" + await world.diagnose(pushes))
        spool_empty_s = await spool_watch
    finally:
        await deliverer.aclose()
    same = world.pids() == pids or scenario.restarts_service
    if scenario.restarts_service:
        same = world.worker_pid() == pids[1]
    notes += world.rerun_notes()
    return Outcome(
        scenario.name,
        scenario.layout,
        rate,
        deliveries,
        end,
        fault_at,
        back_at,
        spool_empty_s,
        synced_s,
        same,
        notes,
    )


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def report(outcome: Outcome) -> None:
    d = outcome.deliveries
    during = (outcome.fault_at, outcome.back_at + 1.0)
    end = outcome.end
    print(f"\n== {outcome.scenario} ({outcome.layout}, {outcome.rate:g} pushes/s)")
    print(f"  pushes: {outcome.sent} sent, {outcome.acked} acked; answers: {d.outcomes()}")
    print(
        f"  stored: {end.inbox_rows} inbox rows for {end.lines_pushed} distinct lines; "
        f"synced {end.lines_synced}/{end.lines_pushed} lines; {end.orders_partial} partial orders"
    )
    print(
        f"  ack during the outage: p99 {_ms(d.ack_p99(*during))}, max {_ms(d.ack_max(*during))}; "
        f"whole run: p99 {_ms(d.ack_p99())}, max {_ms(d.ack_max())}; "
        f"{len(d.late_acks())} acks over 500 ms"
    )
    print(
        f"  Postgres back -> spool empty {outcome.spool_empty_s:.1f} s; "
        f"-> everything synced {outcome.synced_s:.1f} s"
    )
    print(
        f"  end state {'CONVERGED' if end.converged else 'NOT CONVERGED: ' + end.describe()}; "
        f"processes {'unchanged' if outcome.same_processes else 'RESTARTED'}"
    )
    for note in outcome.notes:
        print(f"  note: {note}")


async def _bench(names: Sequence[str], rate: float, sellers: int) -> None:
    for name in names:
        say(f"scenario {name} at {rate:g} pushes/s over {sellers} sellers")
        report(await run_scenario(SCENARIOS[name], rate=rate, sellers=sellers))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=300.0, help="pushes per second")
    parser.add_argument("--sellers", type=int, default=50, help="sellers the orders spread over")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="default: all"
    )
    args = parser.parse_args()
    names = args.scenario or list(SCENARIOS)
    return run_main(lambda: _bench(names, args.rate, args.sellers))


if __name__ == "__main__":
    raise SystemExit(main())
