"""Taking pushes in whether or not the database is there.

Normal path: one transaction stores the push and queues its work. When that transaction cannot
run (the database is down or restarting), the push goes to the local spool and Lazada still gets
its 200; while anything is spooled, new pushes queue behind it so that the inbox receives them
in arrival order. A drainer moves spooled pushes into the inbox as soon as the database answers:
commit first, then delete the file, so a crash in between re-delivers a push that the inbox's
dedupe key then recognises. Nothing acknowledged is lost, nothing is processed twice.
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
from app.integrations.lazada.push import parse_push
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

    async def take(self, body: bytes) -> service.IngestResult | None:
        """Store a verified, parsed push. None: it was spooled."""
        if self.spool.depth() == 0:
            try:
                return await self._ingest(body)
            except Exception as exc:
                if not database_down(exc):
                    raise
                self._down(exc)
        await self.spool.append(orjson.dumps({"source": "lazada", "body": body.decode()}))
        log.warning("lazada.webhook.spooled", spool_depth=self.spool.depth())
        return None

    async def _ingest(self, body: bytes) -> service.IngestResult:
        async with asyncio.timeout(self.db_timeout), transaction(self.sessionmaker) as session:
            return await service.ingest(session, parse_push(body), body)

    def _down(self, exc: BaseException) -> None:
        if self.database_up:
            log.error("intake.database_down", error=type(exc).__name__)
        self.database_up = False

    async def drain_once(self, batch: int = 200) -> int:
        """Move spooled pushes into the inbox, oldest first. Returns how many."""
        moved = 0
        for path in self.spool.oldest(batch):
            record = orjson.loads(path.read_bytes())
            body = record["body"].encode()
            try:
                await self._ingest(body)
            except Exception as exc:
                if not database_down(exc):
                    raise
                self._down(exc)
                return moved
            self.spool.remove(path)
            moved += 1
        if not self.database_up:
            log.info("intake.database_back", drained=moved)
        self.database_up = True
        return moved

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
