"""Long-lived loops kept alive: a loop that ends or raises is logged and started again.

Every background loop of the service (the queue worker, the spool drainer, the sweeper, the
schedulers) runs under a ``Supervisor``. A loop is an ``async def run(loop: Loop)`` that works
until ``loop.stopping`` is set and calls ``loop.beat()`` after each iteration that did its job.
When it raises, or returns while nobody asked it to stop, the supervisor logs it and starts it
again after a capped, jittered exponential backoff; the backoff starts over once the loop has
beaten again. One loop's failure never touches another, and only ``stop()`` ends them: a
database restart must not leave a process that answers HTTP while its drainer or worker is gone.

The supervisor also keeps what health checks need to tell the truth: each loop's state, its last
error's class, since when it has been down, and when it last beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import structlog

from app.kit.backoff import backoff_delay

log = structlog.get_logger(__name__)

LoopState = Literal["starting", "running", "restarting", "stopped"]


@dataclass(frozen=True, slots=True)
class LoopStatus:
    """One loop as health checks report it."""

    name: str
    state: LoopState
    restarts: int
    last_error: str | None  # the exception's class: messages may carry values, classes never do
    since: datetime  # when ``state`` began
    down_since: datetime | None  # None while it is proven up (it beat after its last start)
    seconds_down: float | None
    seconds_since_success: float | None  # since its last beat; None before the first


class Loop:
    """What a supervised function is handed: the stop signal and a way to say "I worked"."""

    def __init__(self, name: str, stopping: asyncio.Event) -> None:
        self.name = name
        self.stopping = stopping
        self._state: LoopState = "starting"
        self._since = time.time()
        self._down_since: float | None = self._since  # not proven up before its first beat
        self._last_beat: float | None = None
        self._last_error: str | None = None
        self.restarts = 0

    def beat(self) -> None:
        """Record an iteration that did its job (the loop is up)."""
        now = time.time()
        self._last_beat = now
        if self._state != "running":
            if self._state == "restarting" and self._down_since is not None:
                log.info(
                    "supervisor.loop.recovered",
                    loop=self.name,
                    down_seconds=round(now - self._down_since, 2),
                    restarts=self.restarts,
                )
            self._state, self._since, self._down_since = "running", now, None

    async def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until asked to stop; True when asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        return self.stopping.is_set()

    def failing(self, error: BaseException) -> None:
        """Say "I am not working" before the loop gives up by itself: a loop that must wait for
        work in flight before it can end (PgQueuer finishing its jobs) is down meanwhile."""
        if self._down_since is None:
            log.warning("supervisor.loop.failing", loop=self.name, error=type(error).__name__)
        self._mark_down(type(error).__name__)

    def _failed(self, error: BaseException | None) -> None:
        self.restarts += 1
        self._mark_down("ended" if error is None else type(error).__name__)

    def _mark_down(self, error: str) -> None:
        now = time.time()
        self._last_error = error
        if self._down_since is None:
            self._down_since = now
        if self._state != "restarting":
            self._state, self._since = "restarting", now

    def _stopped(self) -> None:
        self._state, self._since = "stopped", time.time()

    @property
    def beat_since_start(self) -> bool:
        return self._down_since is None

    def status(self) -> LoopStatus:
        now = time.time()
        return LoopStatus(
            name=self.name,
            state=self._state,
            restarts=self.restarts,
            last_error=self._last_error,
            since=datetime.fromtimestamp(self._since, UTC),
            down_since=(
                None if self._down_since is None else datetime.fromtimestamp(self._down_since, UTC)
            ),
            seconds_down=None if self._down_since is None else now - self._down_since,
            seconds_since_success=None if self._last_beat is None else now - self._last_beat,
        )


LoopFunction = Callable[[Loop], Awaitable[None]]


class Supervisor:
    """Runs named loops until ``stop()``, restarting each one that ends or raises.

    ``expected`` says which errors are ordinary weather (the database restarting): those are
    logged in one line, anything else with its traceback. ``on_restart`` is told each restart
    (the metrics count them).
    """

    def __init__(
        self,
        *,
        base_delay: float = 0.5,
        max_delay: float = 10.0,
        expected: Callable[[BaseException], bool] = lambda _: False,
        on_restart: Callable[[str], None] = lambda _: None,
        rng: random.Random | None = None,
    ) -> None:
        self.base_delay = base_delay
        self._rng = rng
        self.max_delay = max_delay
        self._expected = expected
        self._on_restart = on_restart
        self._stopping = asyncio.Event()
        self._loops: dict[str, tuple[Loop, LoopFunction]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, name: str, run: LoopFunction) -> None:
        if name in self._loops:
            raise ValueError(f"a loop named {name!r} is already supervised")
        if self._tasks:
            raise RuntimeError("add every loop before start()")
        self._loops[name] = (Loop(name, self._stopping), run)

    @property
    def names(self) -> list[str]:
        return list(self._loops)

    def start(self) -> None:
        for name, (loop, run) in self._loops.items():
            self._tasks.append(asyncio.create_task(self._keep(loop, run), name=f"loop:{name}"))

    async def stop(self, grace: float = 30.0) -> None:
        """Ask every loop to stop, wait up to ``grace`` seconds for them, then cancel the rest."""
        self._stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            log.warning("supervisor.loop.stop_timeout", loop=task.get_name())
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def statuses(self) -> list[LoopStatus]:
        return [loop.status() for loop, _ in self._loops.values()]

    def down_longer_than(self, seconds: float) -> list[LoopStatus]:
        """Loops that have not been up for ``seconds`` (failing, or never started working)."""
        return [
            status
            for status in self.statuses()
            if status.state != "stopped"
            and status.seconds_down is not None
            and status.seconds_down > seconds
        ]

    async def _keep(self, loop: Loop, run: LoopFunction) -> None:
        failures = 0
        while not self._stopping.is_set():
            error: BaseException | None = None
            try:
                await run(loop)
            except asyncio.CancelledError:
                if self._stopping.is_set():
                    break
                # A cancel that is not our shutdown comes from inside the loop (a library's
                # own task cancelling it): a failure like any other.
                error = asyncio.CancelledError()
            except Exception as exc:
                error = exc
            else:
                if self._stopping.is_set():
                    break
            failures = 1 if loop.beat_since_start else failures + 1
            loop._failed(error)
            self._on_restart(loop.name)
            delay = backoff_delay(failures, base=self.base_delay, cap=self.max_delay, rng=self._rng)
            fields = {
                "loop": loop.name,
                "restart_in": round(delay, 2),
                "failures": failures,
                "restarts": loop.restarts,
            }
            if error is None:
                log.error("supervisor.loop.ended", **fields)
            elif self._expected(error):
                # Class names only: a database error's text can quote the statement's values.
                cause = error.__cause__ or error.__context__
                log.warning(
                    "supervisor.loop.failed",
                    error=type(error).__name__,
                    cause=type(cause).__name__ if cause is not None else None,
                    **fields,
                )
            else:
                log.error("supervisor.loop.crashed", exc_info=error, **fields)
            if await loop.sleep(delay):
                break
        loop._stopped()
