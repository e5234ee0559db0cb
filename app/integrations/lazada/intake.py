"""Taking pushes in whether or not the database is there.

Normal path: one transaction stores the push and queues its work. When that transaction cannot
run (the database is down or restarting) or cannot finish in time, the push goes to the local
spool and Lazada still gets its 200. While the database is known to be down, every new push
queues behind the spooled ones, so the inbox receives them in arrival order; a push spilled only
because the database was slow does not divert the ones after it. A drainer moves spooled pushes
into the inbox, oldest first, as soon as the database answers: commit first, then delete the
files, so a crash in between re-delivers pushes that the inbox's dedupe key then recognises.
Nothing acknowledged is lost, nothing is processed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import orjson
import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import transaction
from app.integrations.lazada import service
from app.integrations.lazada.push import LazadaPush, parse_push
from app.kit.spool import Spool

log = structlog.get_logger(__name__)

# What "the database is not there" looks like from here: refused or reset connections, a server
# shutting down or starting up, and our own deadline.
DATABASE_DOWN = (OperationalError, InterfaceError, OSError, TimeoutError)


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


@dataclass
class Intake:
    sessionmaker: async_sessionmaker[AsyncSession]
    spool: Spool
    db_timeout: float
    database_up: bool = True

    @property
    def degraded(self) -> bool:
        return not self.database_up or self.spool.depth() > 0

    async def take(self, push: LazadaPush, body: bytes) -> service.IngestResult | None:
        """Store a verified, parsed push. None: it was spooled."""
        if self.database_up:
            try:
                return await self._ingest(push, body)
            except TimeoutError:
                log.warning("lazada.webhook.slow_database")
            except Exception as exc:
                if not database_down(exc):
                    raise
                self._down(exc)
        await self.spool.append(orjson.dumps({"source": "lazada", "body": body.decode()}))
        log.warning("lazada.webhook.spooled", spool_depth=self.spool.depth())
        return None

    async def _ingest(self, push: LazadaPush, body: bytes) -> service.IngestResult:
        async with asyncio.timeout(self.db_timeout), transaction(self.sessionmaker) as session:
            return await service.ingest(session, push, body)

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
            async with asyncio.timeout(10), transaction(self.sessionmaker) as session:
                for body in bodies:
                    await service.ingest(session, parse_push(body), body)
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
