"""The supervisor keeps every loop alive, one loop's failure never stops another, and what it
reports (state, last error, since when, restarts) is what happened."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from app.kit.supervisor import Loop, Supervisor
from tests.fixtures.services import wait_for


def _fast(on_restart: Callable[[str], None] = lambda _: None) -> Supervisor:
    return Supervisor(base_delay=0.01, max_delay=0.05, on_restart=on_restart)


def _status(supervisor: Supervisor, name: str) -> dict[str, object]:
    status = next(s for s in supervisor.statuses() if s.name == name)
    return {
        "state": status.state,
        "last_error": status.last_error,
        "restarts": status.restarts,
        "down": status.down_since is not None,
    }


async def test_a_loop_that_raises_is_restarted_and_its_neighbour_keeps_running() -> None:
    attempts: list[int] = []
    steady_beats: list[int] = []

    async def flaky(loop: Loop) -> None:
        attempts.append(1)
        if len(attempts) <= 3:
            raise ConnectionRefusedError("database away")
        while not loop.stopping.is_set():
            loop.beat()
            await loop.sleep(0.01)

    async def steady(loop: Loop) -> None:
        while not loop.stopping.is_set():
            steady_beats.append(1)
            loop.beat()
            await loop.sleep(0.01)

    restarted: list[str] = []
    supervisor = _fast(on_restart=restarted.append)
    supervisor.add("flaky", flaky)
    supervisor.add("steady", steady)
    supervisor.start()
    try:

        async def flaky_up() -> bool:
            return _status(supervisor, "flaky")["state"] == "running"

        await wait_for(flaky_up, within=5, what="the flaky loop to run")
        assert _status(supervisor, "flaky") == {
            "state": "running",
            "last_error": "ConnectionRefusedError",
            "restarts": 3,
            "down": False,
        }
        assert restarted == ["flaky"] * 3
        assert _status(supervisor, "steady")["restarts"] == 0
        assert len(steady_beats) > 3
    finally:
        await supervisor.stop()
    assert {s.state for s in supervisor.statuses()} == {"stopped"}


async def test_a_loop_that_ends_by_itself_is_restarted() -> None:
    runs: list[int] = []

    async def quits(loop: Loop) -> None:
        runs.append(1)
        loop.beat()

    supervisor = _fast()
    supervisor.add("quits", quits)
    supervisor.start()
    try:

        async def restarted_twice() -> bool:
            return len(runs) >= 3

        await wait_for(restarted_twice, within=5, what="restarts")
        assert _status(supervisor, "quits")["last_error"] == "ended"
    finally:
        await supervisor.stop()


async def test_restarting_state_while_it_fails_and_down_longer_than() -> None:
    async def always_fails(loop: Loop) -> None:
        raise OSError("no route")

    supervisor = Supervisor(base_delay=0.01, max_delay=0.02)
    supervisor.add("broken", always_fails)
    supervisor.start()
    try:

        async def failed_a_few_times() -> bool:
            return next(iter(supervisor.statuses())).restarts >= 3

        await wait_for(failed_a_few_times, within=5, what="failures")
        status = next(iter(supervisor.statuses()))
        assert (status.state, status.last_error) == ("restarting", "OSError")
        assert status.down_since is not None
        assert status.seconds_since_success is None
        assert [s.name for s in supervisor.down_longer_than(0.0)] == ["broken"]
        assert supervisor.down_longer_than(3600) == []
    finally:
        await supervisor.stop()


async def test_failing_marks_a_loop_down_before_it_gives_up() -> None:
    """A loop that must finish work in flight before it can end says so at once."""
    release = asyncio.Event()

    async def drains_first(loop: Loop) -> None:
        loop.beat()
        loop.failing(ConnectionResetError())
        await release.wait()
        raise ConnectionResetError()

    supervisor = _fast()
    supervisor.add("queue", drains_first)
    supervisor.start()
    try:

        async def marked_down() -> bool:
            return _status(supervisor, "queue")["state"] == "restarting"

        await wait_for(marked_down, within=5, what="the loop to be marked down")
        assert _status(supervisor, "queue") == {
            "state": "restarting",
            "last_error": "ConnectionResetError",
            "restarts": 0,  # not restarted yet: it has not ended
            "down": True,
        }
        release.set()

        async def restarted() -> bool:
            return next(iter(supervisor.statuses())).restarts >= 1

        await wait_for(restarted, within=5, what="the restart")
    finally:
        release.set()
        await supervisor.stop()


class CeilingRecorder(random.Random):
    """Full jitter draws between base/2 and the ceiling: record the ceilings asked for."""

    def __init__(self) -> None:
        super().__init__(0)
        self.ceilings: list[float] = []

    def uniform(self, a: float, b: float) -> float:
        self.ceilings.append(round(b, 6))
        return a


async def test_backoff_grows_while_it_keeps_failing_and_starts_over_after_a_beat() -> None:
    starts: list[int] = []

    async def fails_then_works_once(loop: Loop) -> None:
        starts.append(1)
        if len(starts) == 4:
            loop.beat()  # it worked for a moment before failing again
        raise TimeoutError()

    rng = CeilingRecorder()
    supervisor = Supervisor(base_delay=0.01, max_delay=0.04, rng=rng)
    supervisor.add("x", fails_then_works_once)
    supervisor.start()
    try:

        async def enough() -> bool:
            return len(rng.ceilings) >= 7

        await wait_for(enough, within=10, what="seven restarts")
    finally:
        await supervisor.stop()
    assert rng.ceilings[:7] == [0.01, 0.02, 0.04, 0.01, 0.02, 0.04, 0.04]


async def test_stop_cancels_a_loop_that_does_not_listen() -> None:
    async def deaf(loop: Loop) -> None:
        loop.beat()
        await asyncio.sleep(3600)

    supervisor = _fast()
    supervisor.add("deaf", deaf)
    supervisor.start()

    async def running() -> bool:
        return _status(supervisor, "deaf")["state"] == "running"

    await wait_for(running, within=5, what="the loop to run")
    await asyncio.wait_for(supervisor.stop(grace=0.1), timeout=5)


def test_names_are_unique() -> None:
    supervisor = Supervisor()

    async def noop(loop: Loop) -> None:
        return None

    supervisor.add("a", noop)
    with pytest.raises(ValueError, match="already supervised"):
        supervisor.add("a", noop)
