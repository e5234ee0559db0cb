"""Taking pushes in whether or not the database is there, many per transaction.

Group commit: a webhook request hands its verified push to ``Intake.take`` and waits. A
flusher stores everything that is waiting in one transaction, which is a single SQL statement
(inbox rows and their jobs, ``service.ingest_many``): one round trip, with no BEGIN or COMMIT of
its own. It answers every waiting request and starts over with what arrived meanwhile. Up to
``max_in_flight`` flushers run at once, so the event loop reads the next requests while a batch
is in Postgres. Under a burst a transaction carries dozens of pushes, so the database work per
push shrinks as the load grows; at rest a push waits for its own transaction only. Each request
still gets its 200 only once its push is committed.

When that cannot happen in time (the database is down, restarting, hanging or slow), the
request puts its push in the local spool (fsync'd) and Lazada still gets its 200. While anything
is spooled, every new push queues behind it, so the inbox receives pushes batch by batch in the
order they arrived. A supervised drainer moves spooled pushes into the inbox, oldest first, as
soon as the database answers: commit first, then delete the files, so a crash in between
re-delivers pushes that the inbox's dedupe key then recognises; a process that starts over a
spool left by a crash drains it the same way. A push that was spooled while its transaction went
on to commit is recognised the same way. When the spool cannot be written either (disk full,
directory unwritable), the push is refused with a 503, which Lazada delivers again: never a 200
for a push that is neither committed nor fsync'd. Nothing acknowledged is lost, nothing is
processed twice.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import database_answers, database_unavailable, value_refused
from app.exceptions import ServiceUnavailable
from app.integrations.lazada import service
from app.integrations.lazada.push import InvalidPush, LazadaPush, parse_push
from app.kit.backoff import backoff_delay
from app.kit.spool import Spool, SpoolFile, read_records
from app.kit.supervisor import Loop
from app.metrics import INTAKE_BATCH, SPOOL_WRITE_FAILURES
from app.worker.queue import current_request_id

log = structlog.get_logger(__name__)

# How long one intake transaction may take before the database counts as down. The requests
# waiting on it give up much sooner (``db_timeout``) and spool their pushes.
BATCH_DEADLINE = 5.0
MAX_BATCH = 256
DRAIN_BATCH = 200
# A spooled push whose values Postgres refuses this many times over is set aside.
REFUSALS_BEFORE_QUARANTINE = 3


class SpoolUnavailable(ServiceUnavailable):
    """Neither the database nor the local disk can keep the push: refuse it, so that Lazada
    delivers it again, rather than acknowledge what nobody keeps."""

    code = "spool_unavailable"
    title = "The push cannot be stored right now"


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
    _refusals: dict[tuple[str, int], int] = field(default_factory=dict)  # record -> refusals

    def __post_init__(self) -> None:
        if self.spool.depth():
            # Left by a process that stopped (or crashed) before the database took them.
            log.warning(
                "intake.spool.left_over",
                records=self.spool.depth(),
                oldest_seconds=round(self.spool.oldest_age(), 1),
            )

    @property
    def degraded(self) -> bool:
        return not self.database_up or self.spool.depth() > 0

    async def take(self, push: LazadaPush, body: bytes) -> service.IngestResult | None:
        """Store a verified, parsed push. None: it was spooled. ``SpoolUnavailable``: neither
        could keep it."""
        # Behind anything already spooled, so that the inbox receives pushes in arrival order.
        if self.database_up and not self.spool.depth():
            try:
                return await self._submit(service.Received(push, body, current_request_id()))
            except SlowDatabase:
                log.warning("lazada.webhook.slow_database")
            except DatabaseUnavailable:
                pass
        try:
            await self.spool.append(orjson.dumps({"source": "lazada", "body": body.decode()}))
        except OSError as exc:
            reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
            SPOOL_WRITE_FAILURES.labels(reason).inc()
            log.error("intake.spool.write_failed", reason=reason, spool=str(self.spool.directory))
            raise SpoolUnavailable(
                "The database is unavailable and the local spool cannot be written "
                f"({reason}); deliver the push again later.",
                headers={"Retry-After": "5"},
            ) from None
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
            if database_unavailable(exc):
                self._down(exc)
                _answer(batch, error=DatabaseUnavailable)
                return
            # Something in the batch broke the transaction (a deadlock, a value Postgres
            # refuses): store the pushes one by one so that only a culprit fails.
            log.warning("intake.batch.failed", pushes=len(batch), **_error_fields(exc))
            await self._flush_singly(batch)
            return
        for waiting, result in zip(batch, results, strict=True):
            _answer([waiting], result=result)

    async def _flush_singly(self, batch: list[_Waiting]) -> None:
        for waiting in batch:
            try:
                (result,) = await self._store([waiting.item])
            except Exception as exc:
                if database_unavailable(exc):
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
                if not value_refused(exc):
                    # Whatever state it is in, the pool must not hand this connection out again
                    # (a refused value leaves an autocommit connection as clean as it was).
                    await connection.invalidate()
                raise

    def _down(self, exc: BaseException) -> None:
        if self.database_up:
            log.error("intake.database_down", error=type(exc).__name__)
        self.database_up = False

    async def drain_once(self, batch: int = DRAIN_BATCH) -> int:
        """Move the oldest spooled pushes into the inbox in one statement. Returns how many
        left the spool; 0 with pushes left means the database is still away."""
        files = self.spool.oldest(batch)
        if not files:
            return 0
        # Off the event loop: on a disk busy with Postgres's recovery, file operations can take
        # long enough to delay the acks of the pushes arriving meanwhile.
        contents = await asyncio.to_thread(lambda: [read_records(file) for file in files])
        readable: list[SpoolFile] = []
        items: list[_Spooled] = []
        for file, records in zip(files, contents, strict=True):
            if records is None:
                # Only damage gets here (a disk error): set the file aside for a human rather
                # than block every push after it.
                await self.spool.quarantine(file)
                log.error("intake.spool.unreadable", file=file.path.name)
                continue
            readable.append(file)
            for index, record in enumerate(records):
                try:
                    body = orjson.loads(record)["body"].encode()
                    received = service.Received(parse_push(body), body)
                except (ValueError, KeyError, TypeError, AttributeError, InvalidPush):
                    # Verified before it was spooled: damage again (a hand edit, a bad sector).
                    await self.spool.set_aside(file, index, record)
                    log.error("intake.spool.unreadable", file=file.path.name, record=index)
                else:
                    items.append(_Spooled(file, index, record, received))
        try:
            await self._store([item.received for item in items])
        except Exception as exc:
            if database_unavailable(exc):
                self._down(exc)
                return 0
            log.warning("intake.drain.batch_failed", pushes=len(items), **_error_fields(exc))
            if not await self._drain_singly(items):
                return 0
        # Committed: only now may the files go (a crash in between re-delivers them, and their
        # dedupe keys recognise them).
        await self.spool.remove(readable)
        self._up(drained=len(items))
        return sum(file.records for file in files)

    async def _drain_singly(self, items: list[_Spooled]) -> bool:
        """A batch Postgres refused as a whole: store its pushes one by one, so that only a
        push whose values Postgres keeps refusing is set aside (``rejected/``, for a human).
        False: the database went away meanwhile (the files stay; what was stored is recognised
        by its dedupe key next time). Any other failure keeps the files and fails the drainer,
        which the supervisor starts again after a backoff: a push is never set aside for a
        reason that is not its own."""
        for item in items:
            key = (item.file.path.name, item.index)
            try:
                await self._store([item.received])
            except Exception as exc:
                if database_unavailable(exc):
                    self._down(exc)
                    return False
                refusals = self._refusals.get(key, 0) + 1
                if not value_refused(exc) or refusals < REFUSALS_BEFORE_QUARANTINE:
                    self._refusals[key] = refusals
                    raise
                await self.spool.set_aside(item.file, item.index, item.record)
                log.error(
                    "intake.spool.refused",
                    file=item.file.path.name,
                    record=item.index,
                    **_error_fields(exc),
                )
            self._refusals.pop(key, None)
        return True

    def _up(self, *, drained: int = 0) -> None:
        if not self.database_up:
            log.info("intake.database_back", drained=drained, left=self.spool.depth())
        self.database_up = True

    async def run_drainer(self, loop: Loop) -> None:
        """The spool drainer, a supervised loop: drain while there is anything to drain, and
        probe the database no faster than a jittered backoff while it is away."""
        failures = 0
        while not loop.stopping.is_set():
            if not self.spool.depth():
                # Pushes go to the spool while the database is marked away: when nothing was
                # spooled (its disk refused them too), only a probe can mark it back.
                if not self.database_up and await database_answers(self.engine):
                    self._up()
                loop.beat()
                await loop.sleep(0.2)
                continue
            if await self.drain_once():
                failures = 0
                loop.beat()
                continue  # more may be waiting: no pause while the database takes them
            if not self.spool.oldest(1):
                await loop.sleep(0.05)  # only writes under way: they finish in milliseconds
                continue
            failures += 1
            await loop.sleep(backoff_delay(failures, base=0.2, cap=2.0))


@dataclass(frozen=True, slots=True)
class _Spooled:
    """One record of a spool file, parsed."""

    file: SpoolFile
    index: int
    record: bytes
    received: service.Received


def _error_fields(exc: BaseException) -> dict[str, str | None]:
    """The error's class and the driver's under it (never the message: it can quote values)."""
    orig = getattr(exc, "orig", None)
    return {
        "error": type(exc).__name__,
        "cause": type(orig).__name__ if orig is not None else None,
        "sqlstate": getattr(orig, "sqlstate", None),
    }


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
