"""A durable local spool: one fsync'd file per record, drained in the order written.

When the database cannot take a push, the webhook still owes Lazada a 200 within 500 ms and a
promise that the push is kept. The spool keeps that promise on local disk: a record is written
to a temporary file, fsync'd, renamed into place and the directory fsync'd, so that once
``append`` returns the record survives a crash. Names sort in write order.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path

_SUFFIX = ".rec"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*.tmp"):
            leftover.unlink()  # a write that never finished was never acknowledged
        self._counter = itertools.count()
        self._depth = sum(1 for _ in directory.glob(f"*{_SUFFIX}"))

    def depth(self) -> int:
        return self._depth

    def _name(self) -> str:
        # Time first so names sort in write order; pid and counter keep them unique.
        return f"{time.time_ns():020d}-{os.getpid()}-{next(self._counter):08d}{_SUFFIX}"

    def _write(self, name: str, record: bytes) -> None:
        final = self.directory / name
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(record)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def append(self, record: bytes) -> None:
        """Store ``record`` durably; when this returns, it is on disk."""
        name = self._name()
        self._depth += 1
        try:
            await asyncio.to_thread(self._write, name, record)
        except BaseException:
            self._depth -= 1
            raise

    def oldest(self, limit: int) -> list[Path]:
        return sorted(self.directory.glob(f"*{_SUFFIX}"))[:limit]

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._depth = max(0, self._depth - 1)
