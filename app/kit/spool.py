"""A durable local spool: one fsync'd file per record, drained in the order written.

When the database cannot take a push, the webhook still owes Lazada a 200 within 500 ms and a
promise that the push is kept. The spool keeps that promise on local disk: a record is written
to a temporary file, fsync'd, renamed into place and the directory fsync'd, so that once
``append`` returns the record survives a crash of the process or of the machine. Names sort in
write order, so a process that starts over a spool left by a crash drains it oldest first.

When the disk is full or the directory unwritable, ``append`` raises ``OSError``: the caller
must then refuse the push (Lazada sends it again) rather than acknowledge what is not kept.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
        # Records on disk, oldest first: what a previous process left, then what this one wrote
        # (in the order the writes finished, which is the order they were acknowledged).
        self._ready: collections.deque[str] = collections.deque(
            sorted(path.name for path in directory.glob(f"*{_SUFFIX}"))
        )
        self._writing = 0

    def depth(self) -> int:
        """Records kept, counting writes under way (their pushes are not acknowledged yet, but
        whatever arrives after them must queue behind them)."""
        return len(self._ready) + self._writing

    def oldest_age(self) -> float:
        """Seconds since the oldest kept record was written (0 when empty)."""
        if not self._ready:
            return 0.0
        written_ns = int(self._ready[0].split("-", 1)[0])
        return max(0.0, (time.time_ns() - written_ns) / 1e9)

    def _name(self) -> str:
        # Time first so names sort in write order; pid and counter keep them unique.
        return f"{time.time_ns():020d}-{os.getpid()}-{next(self._counter):08d}{_SUFFIX}"

    def _write(self, name: str, record: bytes) -> None:
        final = self.directory / name
        temporary = final.with_suffix(".tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(record)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)  # half a record must never be drained
            raise
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def append(self, record: bytes) -> None:
        """Store ``record`` durably; when this returns, it is on disk."""
        name = self._name()
        self._writing += 1
        try:
            await asyncio.to_thread(self._write, name, record)
        except BaseException:
            if (self.directory / name).exists():  # renamed into place, then a later step failed
                self._ready.append(name)
            raise
        else:
            self._ready.append(name)
        finally:
            self._writing -= 1

    def oldest(self, limit: int) -> list[Path]:
        return [self.directory / name for name in itertools.islice(self._ready, limit)]

    async def quarantine(self, path: Path) -> None:
        """Set a record that cannot be stored aside (``rejected/``), out of the drain's way."""
        await asyncio.to_thread(self._move_aside, path)
        self._forget(path.name)

    def _move_aside(self, path: Path) -> None:
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, rejected / path.name)

    async def remove(self, paths: list[Path]) -> None:
        """Forget ``paths``, which must be the oldest records (as ``oldest`` gave them). The
        files go in a thread: on a busy disk, hundreds of unlinks would stall the event loop."""
        await asyncio.to_thread(_unlink_all, paths)
        for path in paths:
            self._forget(path.name)

    def _forget(self, name: str) -> None:
        if self._ready and self._ready[0] == name:
            self._ready.popleft()
        else:  # not the oldest: rare, so a scan is fine
            with contextlib.suppress(ValueError):
                self._ready.remove(name)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
