"""Taking pushes in whether or not the database is there, many per transaction.

Group commit: a webhook request hands its verified push to ``Intake.take`` and waits. A
flusher stores everything that is waiting in one transaction, which is a single SQL statement
(inbox rows and their jobs, ``service.ingest_many``): one round trip, with no BEGIN or COMMIT of
its own. It answers every waiting request and starts over with what arrived meanwhile. Up to
``max_in_flight`` flushers run at once, so the event loop reads the next requests while a batch
is in Postgres. Under a burst a transaction carries dozens of pushes, so the database work per
push shrinks as the load grows; at rest a push waits for its own transaction only. Each request
still gets its 200 only once its push is committed.

When that cannot happen in time (the database is down, restarting or slow), the request puts
its push in the local spool and Lazada still gets its 200. While the database is known to be
down, every new push queues behind the spooled ones, so the inbox receives them in arrival
order; a push spilled only because the database was slow does not divert the ones after it. A
drainer moves spooled pushes into the inbox, oldest first, as soon as the database answers:
commit first, then delete the files, so a crash in between re-delivers pushes that the inbox's
dedupe key then recognises. A push that was spooled while its transaction went on to commit is
recognised the same way. Nothing acknowledged is lost, nothing is processed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import orjson
import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.integrations.lazada import service
from app.integrations.lazada.push import LazadaPush, parse_push
from app.kit.spool import Spool
from app.metrics import INTAKE_BATCH
from app.worker.queue import current_request_id

log = structlog.get_logger(__name__)

# What "the database is not there" looks like from here: refused or reset connections, a server
# shutting down or starting up, and our own deadline. The asyncpg classes are for the statements
# that go straight to asyncpg (``app.db.driver_connection``), which SQLAlchemy does not wrap.
DATABASE_DOWN = (
    OperationalError,
    InterfaceError,
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)
# How long one intake transaction may take before the database counts as down. The requests
# waiting on it give up much sooner (``db_timeout``) and spool their pushes.
BATCH_DEADLINE = 5.0
MAX_BATCH = 256


def database_down(exc: BaseException) -> bool:
    if isinstance(exc, DATABASE_DOWN):
        return True
    if isinstance(exc, DBAPIError):
        return (
            exc.connection_invalidated
            or "connect" in type(exc.orig).__name__.lower()
            or ("shutting down" in str(exc.orig) or "starting up" in str(exc.orig))
        )
    return False


class DatabaseUnavailable(Exception):
    """The push's transaction could not run: its request spools it instead."""


class SlowDatabase(DatabaseUnavailable):
    """The push's transaction did not commit within ``db_timeout``: its request spools it."""


def _give_up(future: asyncio.Future[service.IngestResult]) -> None:
    if not future.done():
        future.set_exception(SlowDatabase())


def _mark_retrieved(future: asyncio.Future[service.IngestResult]) -> None:
    # A request that gave up waiting never reads its future; reading the exception here keeps
    # asyncio from reporting it as lost.
    if not future.cancelled():
        future.exception()


@dataclass(slots=True)
class _Waiting:
    item: service.Received
    future: asyncio.Future[service.IngestResult]
    timer: asyncio.TimerHandle


@dataclass
class Intake:
    engine: AsyncEngine
    spool: Spool
    db_timeout: float
    sync_delay: float = 0.0  # ORDERSYNC_SYNC_DELAY, see service.ingest_many
    max_in_flight: int = 3  # batches in Postgres at once (1 to 6 measured alike; bench/README)
    database_up: bool = True
    _waiting: list[_Waiting] = field(default_factory=list)
    _flushers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def degraded(self) -> bool:
        return not self.database_up or self.spool.depth() > 0

    async def take(self, push: LazadaPush, body: bytes) -> service.IngestResult | None:
        """Store a verified, parsed push. None: it was spooled."""
        if self.database_up:
            try:
                return await self._submit(service.Received(push, body, current_request_id()))
            except SlowDatabase:
                log.warning("lazada.webhook.slow_database")
            except DatabaseUnavailable:
                pass
        await self.spool.append(orjson.dumps({"source": "lazada", "body": body.decode()}))
        log.warning("lazada.webhook.spooled", spool_depth=self.spool.depth())
        return None

    def _submit(self, item: service.Received) -> asyncio.Future[service.IngestResult]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[service.IngestResult] = loop.create_future()
        future.add_done_callback(_mark_retrieved)
        # A timer rather than ``asyncio.timeout`` + ``shield``: cheaper per request, and the push
        # stays in its batch whether or not its request is still waiting.
        timer = loop.call_later(self.db_timeout, _give_up, future)
        self._waiting.append(_Waiting(item, future, timer))
        if len(self._flushers) < self.max_in_flight:
            flusher = asyncio.create_task(self._flush_waiting())
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        return future

    async def _flush_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            try:
                await self._flush(batch)
            except BaseException:
                # Never leave a request waiting on a flusher that is gone: they spool instead.
                _answer(batch, error=DatabaseUnavailable)
                raise

    async def _flush(self, batch: list[_Waiting]) -> None:
        if not self.database_up:
            _answer(batch, error=DatabaseUnavailable)
            return
        INTAKE_BATCH.observe(len(batch))
        try:
            results = await self._store([waiting.item for waiting in batch])
        except Exception as exc:
            if database_down(exc):
                self._down(exc)
                _answer(batch, error=DatabaseUnavailable)
                return
            # Something in the batch broke the transaction (a deadlock, a value Postgres
            # refuses): store the pushes one by one so that only a culprit fails.
            log.warning("intake.batch.failed", error=type(exc).__name__, pushes=len(batch))
            await self._flush_singly(batch)
            return
        for waiting, result in zip(batch, results, strict=True):
            _answer([waiting], result=result)

    async def _flush_singly(self, batch: list[_Waiting]) -> None:
        for waiting in batch:
            try:
                (result,) = await self._store([waiting.item])
            except Exception as exc:
                if database_down(exc):
                    self._down(exc)
                    _answer([waiting], error=DatabaseUnavailable)
                else:
                    log.exception("intake.push.failed")
                    _answer([waiting], error=exc)
            else:
                _answer([waiting], result=result)

    async def _store(self, items: Sequence[service.Received]) -> list[service.IngestResult]:
        # One statement, outside any transaction: it commits on its own (service.ingest_many).
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                async with asyncio.timeout(BATCH_DEADLINE):
                    return await service.ingest_many(
                        raw.driver_connection, items, sync_delay=self.sync_delay
                    )
            except Exception as exc:
                if database_down(exc):
                    # Whatever state it is in, the pool must not hand this connection out again.
                    await connection.invalidate()
                raise

    def _down(self, exc: BaseException) -> None:
        if self.database_up:
            log.error("intake.database_down", error=type(exc).__name__)
        self.database_up = False

    async def drain_once(self, batch: int = 100) -> int:
        """Move the oldest spooled pushes into the inbox in one transaction. Returns how many."""
        paths = self.spool.oldest(batch)
        if not paths:
            return 0
        bodies = [orjson.loads(path.read_bytes())["body"].encode() for path in paths]
        try:
            await self._store([service.Received(parse_push(body), body) for body in bodies])
        except Exception as exc:
            if not database_down(exc):
                raise
            self._down(exc)
            return 0
        for path in paths:
            self.spool.remove(path)
        if not self.database_up:
            log.info("intake.database_back", drained=len(paths))
        self.database_up = True
        return len(paths)

    async def run_drainer(self, stop: asyncio.Event) -> None:
        pause = 0.2
        while not stop.is_set():
            if self.spool.depth() > 0:
                try:
                    await self.drain_once()
                except Exception:
                    log.exception("intake.drain.error")
                pause = 0.2 if self.database_up else min(pause * 2, 2.0)
            else:
                pause = 0.5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)


def _answer(
    batch: Sequence[_Waiting],
    *,
    result: service.IngestResult | None = None,
    error: BaseException | type[BaseException] | None = None,
) -> None:
    """Wake the requests of ``batch``; an exception class gives each its own instance."""
    for waiting in batch:
        waiting.timer.cancel()
        if waiting.future.done():
            continue
        if error is not None:
            waiting.future.set_exception(error)
        else:
            assert result is not None
            waiting.future.set_result(result)
