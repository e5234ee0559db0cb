"""The fault matrix: the service running as a user runs it (subprocesses), its Postgres crashed,
stopped for longer than every timeout, or hung, the API process SIGKILLed with a full spool, a
worker caught mid-sync; signed pushes arriving throughout. Each scenario asserts the end state:
every push acknowledged within 500 ms, stored once and synced to what the sandbox holds, nothing
pending, no job parked, the spool empty, and no process restarted (unless the scenario does it).

The scenarios are ``bench.faults``'s, at 40 pushes/s; ``python -m bench.faults`` runs them at
300/s and prints the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from bench.faults import SCENARIOS, Outcome, Scenario, run_in
from bench.faultworld import World, open_world
from tests.fixtures.services import wait_for

RATE = 40.0
SELLERS = 10

pytestmark = pytest.mark.faults


def assert_end_state(outcome: Outcome) -> None:
    deliveries = outcome.deliveries
    assert not deliveries.unacked, f"{len(deliveries.unacked)} pushes never acknowledged"
    late = deliveries.late_acks()
    assert not late, f"{len(late)} acks took 500 ms or more: " + ", ".join(
        f"{s.ack} {s.latency:.3f} s sent {s.sent_at - outcome.fault_at:+.2f} s from the fault"
        for s in late[:10]
    )
    assert outcome.end.converged, outcome.end.describe() + "\n" + "\n".join(outcome.notes)
    assert outcome.same_processes, "a process of the service was restarted"


@contextlib.asynccontextmanager
async def world_for(name: str) -> AsyncIterator[tuple[Scenario, World]]:
    scenario = SCENARIOS[name]
    world = await open_world(
        layout=scenario.layout, through_proxy=scenario.through_proxy, sellers=SELLERS
    )
    try:
        yield scenario, world
    finally:
        await world.close()


async def run(name: str, *, watch: Callable[[World], Awaitable[None]] | None = None) -> Outcome:
    async with world_for(name) as (scenario, world):
        watcher = asyncio.ensure_future(watch(world)) if watch else None
        outcome = await run_in(world, scenario, rate=RATE)
        if watcher is not None:
            await watcher
        assert world.alive(), "a process of the service exited"
        assert_end_state(outcome)
        return outcome


async def health_during_outage(world: World) -> None:
    """While Postgres is down, /readyz tells the truth: the database is down and the queue
    loop restarting, with its error and since when; /healthz stays up (within its grace). Once
    Postgres is back, everything is running again."""
    queue_host = world.urls["worker_health"] if world.layout == "split" else world.urls["service"]
    async with httpx.AsyncClient(timeout=10) as client:

        async def readiness(url: str) -> dict[str, Any]:
            answer: dict[str, Any] = (await client.get(f"{url}/readyz")).json()
            return answer

        async def queue_restarting() -> dict[str, Any] | None:
            ready = await readiness(queue_host)
            queue = {loop["name"]: loop for loop in ready["loops"]}["queue"]
            return queue if queue["state"] == "restarting" else None

        queue = await wait_for(queue_restarting, within=60, what="the queue loop to restart")
        assert queue is not None
        assert queue["last_error"]
        assert queue["down_since"]
        ready = await readiness(world.urls["service"])
        assert (ready["status"], ready["database"]) == ("degraded", "down")
        for url in {world.urls["service"], queue_host}:
            assert (await client.get(f"{url}/healthz")).status_code == 200

        async def all_ready() -> bool:
            answers = [await readiness(url) for url in {world.urls["service"], queue_host}]
            return all(answer["status"] == "ready" for answer in answers)

        await wait_for(all_ready, within=180, what="every loop running again")
        queue = {loop["name"]: loop for loop in (await readiness(queue_host))["loops"]}["queue"]
        assert queue["restarts"] > 0
    # PgQueuer listens again, on a connection opened after the restart.
    assert await world.listening_connections() == 1


async def test_crash_for_3s_with_the_worker_inline() -> None:
    await run("crash-3s-inline")


async def test_stop_for_40s_with_the_worker_inline() -> None:
    """Longer than the job heartbeat (30 s) and every connection timeout."""
    await run("stop-40s-inline", watch=health_during_outage)


async def test_crash_for_3s_with_a_separate_worker() -> None:
    await run("crash-3s-split")


async def test_stop_for_40s_with_a_separate_worker() -> None:
    """The docker-compose layout: the worker process lives through it (same pid)."""
    await run("stop-40s-split", watch=health_during_outage)


async def test_crash_while_syncs_wait_on_lazada() -> None:
    """The syncs in flight run again, without spending an attempt, and nothing is half-written
    (``orders_partial`` in the end state)."""
    async with world_for("crash-mid-sync") as (scenario, world):
        outcome = await run_in(world, scenario, rate=RATE)
        assert_end_state(outcome)
        assert world.log_count("worker.job.rerun_after_outage") >= 1
        assert world.log_count("worker.job.retry") == 0


async def test_sigkill_of_the_api_with_a_full_spool() -> None:
    """Pushes spooled before the kill are drained by the next process; pushes sent while no
    process listened were refused, and delivered again as Lazada does."""
    async with world_for("kill-service-with-spool") as (scenario, world):
        outcome = await run_in(world, scenario, rate=RATE)
        assert_end_state(outcome)
        assert outcome.deliveries.outcomes().get("200 spooled", 0) >= 20
        assert world.log_count("intake.spool.left_over") == 1  # the next process found them


async def test_postgres_that_accepts_tcp_but_never_answers() -> None:
    outcome = await run("hang-10s")
    assert outcome.deliveries.outcomes().get("200 spooled", 0) > 0
