"""A durable local spool with group commit: records written together share one fsync'd file.

When the database cannot take a push, the webhook still owes Lazada a 200 within 500 ms and a
promise that the push is kept. The spool keeps that promise on local disk: ``append`` returns
once its record is in a file that was fsync'd, renamed into place and whose directory was
fsync'd, so the record survives a crash of the process or of the machine.

A disk does a few thousand of those fsyncs a second at best, far fewer while Postgres's own
recovery flushes the same disk, and a busy webhook receives hundreds of pushes a second. So the
records waiting while a file is being written go into the next file together (one line each,
in arrival order): under load the cost per push shrinks, at rest a push waits for its own fsync
only. File names sort in write order, so a process that starts over a spool left by a crash
drains it oldest first.

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
from dataclasses import dataclass
from pathlib import Path

_SUFFIX = ".rec"
MAX_FILE_RECORDS = 512


@dataclass(frozen=True, slots=True)
class SpoolFile:
    """A file of the spool and the records it holds (one per line, oldest first)."""

    path: Path
    records: int


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*.tmp"):
            leftover.unlink()  # a write that never finished was never acknowledged
        self._counter = itertools.count()
        # Files on disk, oldest first: what a previous process left, then what this one wrote.
        self._ready: collections.deque[SpoolFile] = collections.deque(
            SpoolFile(path, _count_lines(path)) for path in sorted(directory.glob(f"*{_SUFFIX}"))
        )
        self._kept = sum(file.records for file in self._ready)
        self._waiting: list[tuple[bytes, asyncio.Future[None]]] = []
        self._writing = 0  # records in the file being written
        self._writer: asyncio.Task[None] | None = None

    def depth(self) -> int:
        """Records kept, counting those being written (their pushes are not acknowledged yet,
        but whatever arrives after them must queue behind them)."""
        return self._kept + len(self._waiting) + self._writing

    def oldest_age(self) -> float:
        """Seconds since the oldest kept record was written (0 when empty)."""
        if not self._ready:
            return 0.0
        written_ns = int(self._ready[0].path.name.split("-", 1)[0])
        return max(0.0, (time.time_ns() - written_ns) / 1e9)

    async def append(self, record: bytes) -> None:
        """Store ``record`` (one line: no raw newline in it) durably; when this returns, it
        is on disk."""
        if b"\n" in record:
            raise ValueError("a spool record is one line")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((record, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        await future

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_FILE_RECORDS]
            del self._waiting[:MAX_FILE_RECORDS]
            self._writing = len(batch)
            path = self.directory / self._name()
            try:
                await asyncio.to_thread(self._write, path, [record for record, _ in batch])
            except BaseException as exc:
                if path.exists():  # renamed into place, then a later step failed
                    self._keep(SpoolFile(path, len(batch)))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else OSError())
                if not isinstance(exc, Exception):
                    raise
            else:
                self._keep(SpoolFile(path, len(batch)))
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
            finally:
                self._writing = 0

    def _keep(self, file: SpoolFile) -> None:
        self._ready.append(file)
        self._kept += file.records

    def _name(self) -> str:
        # Time first so names sort in write order; pid and counter keep them unique.
        return f"{time.time_ns():020d}-{os.getpid()}-{next(self._counter):08d}{_SUFFIX}"

    def _write(self, final: Path, records: list[bytes]) -> None:
        temporary = final.with_suffix(".tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(b"\n".join(records) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)  # half a file must never be drained
            raise
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def oldest(self, limit: int) -> list[SpoolFile]:
        """The oldest files holding at most ``limit`` records (always one file, if any)."""
        files: list[SpoolFile] = []
        total = 0
        for file in self._ready:
            if files and total + file.records > limit:
                break
            files.append(file)
            total += file.records
        return files

    async def quarantine(self, file: SpoolFile) -> None:
        """Set a file that cannot be read aside (``rejected/``), out of the drain's way."""
        await asyncio.to_thread(self._move_aside, file.path)
        self._forget(file)

    async def set_aside(self, file: SpoolFile, index: int, record: bytes) -> None:
        """Keep one record that cannot be stored in ``rejected/``, for a human; its file goes
        once every other record of it is stored (``remove``)."""
        await asyncio.to_thread(self._write_aside, f"{file.path.stem}-{index}{_SUFFIX}", record)

    def _rejected(self) -> Path:
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True)
        return rejected

    def _move_aside(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, self._rejected() / path.name)

    def _write_aside(self, name: str, record: bytes) -> None:
        (self._rejected() / name).write_bytes(record + b"\n")

    async def remove(self, files: list[SpoolFile]) -> None:
        """Forget ``files``, whose records are all stored or set aside. The files go in a
        thread: on a busy disk, hundreds of unlinks would stall the event loop."""
        await asyncio.to_thread(_unlink_all, [file.path for file in files])
        for file in files:
            self._forget(file)

    def _forget(self, file: SpoolFile) -> None:
        if self._ready and self._ready[0] == file:
            self._ready.popleft()
        else:  # not the oldest: rare, so a scan is fine
            try:
                self._ready.remove(file)
            except ValueError:
                return
        self._kept -= file.records


def read_records(file: SpoolFile) -> list[bytes] | None:
    """The records of ``file`` (None: it cannot be read)."""
    try:
        return [line for line in file.path.read_bytes().splitlines() if line]
    except OSError:
        return None


def _count_lines(path: Path) -> int:
    try:
        return max(1, sum(1 for line in path.read_bytes().splitlines() if line))
    except OSError:
        return 1


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
