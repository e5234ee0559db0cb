"""Load generation: keep-alive HTTP/1.1 senders, open and closed loops, samples, percentiles.

A request is anything with a ``path``, a JSON ``body`` and extra ``headers`` (``Request``);
the senders add ``Content-Type: application/json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from bench.common import BenchError

REQUEST_TIMEOUT_S = 30.0


# --- statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: int) -> float:
    """The p-th percentile (1..99), or NaN when there is nothing to measure."""
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


# --- samples ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    sent_at: float  # wall clock, comparable with the database's timestamps
    latency: float  # seconds from sending to the whole answer
    status: int | None  # None: no HTTP answer
    ack: str  # the answer's JSON "status" string (accepted, succeeded...); "" when none
    error: str | None
    content: bytes = b""  # the answer's body


@dataclass
class Run:
    samples: list[Sample]  # in the order of the requests sent
    elapsed: float  # first send to last answer
    max_lag: float = 0.0  # open loop: the worst delay behind schedule
    cpu: dict[str, float] = field(default_factory=dict)  # share of a core per process group
    ok_status: int = 200  # the HTTP status that counts as acked

    @property
    def acked(self) -> list[Sample]:
        return [s for s in self.samples if s.status == self.ok_status]

    def answered(self, ack: str) -> int:
        return sum(1 for s in self.samples if s.status == self.ok_status and s.ack == ack)

    @property
    def failed(self) -> int:
        return len(self.samples) - len(self.acked)

    @property
    def rate(self) -> float:
        return len(self.acked) / self.elapsed if self.elapsed > 0 else math.nan

    def latency(self, p: int) -> float:
        return percentile([s.latency for s in self.samples if s.status is not None], p)

    @property
    def max_latency(self) -> float:
        return max((s.latency for s in self.samples), default=math.nan)

    def outcomes(self) -> str:
        counts = Counter(
            f"{s.status} {s.ack}".strip() if s.status is not None else (s.error or "error")
            for s in self.samples
        )
        return ", ".join(f"{key}: {n}" for key, n in sorted(counts.items()))


# --- senders ----------------------------------------------------------------------------------


class Request(Protocol):
    """What a sender POSTs."""

    @property
    def path(self) -> str: ...

    @property
    def body(self) -> bytes: ...

    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...


class SendError(Exception):
    """No HTTP answer (connection refused or reset, timeout, unparsable response)."""


class Sender(Protocol):
    """One keep-alive HTTP/1.1 connection that POSTs JSON bodies."""

    async def post(
        self, path: str, body: bytes, headers: Sequence[tuple[str, str]]
    ) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class HttpxSender:
    """httpx, one client (so one pooled connection) per sender.

    One shared client with ``max_connections=C`` works too, but httpcore's pool bookkeeping
    grows with the number of connections: at C=64 it cost ~3 ms of CPU per request here,
    against ~0.8 ms with a client per connection.
    """

    def __init__(self, base_url: str) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._client = httpx.AsyncClient(
            base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S
        )

    async def post(
        self, path: str, body: bytes, headers: Sequence[tuple[str, str]]
    ) -> tuple[int, bytes]:
        sent = {"Content-Type": "application/json", **dict(headers)}
        try:
            response = await self._client.post(path, content=body, headers=sent)
        except httpx.HTTPError as exc:
            raise SendError(type(exc).__name__) from exc
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


class RawSender:
    """A hand-written HTTP/1.1 keep-alive client for Content-Length answers (all uvicorn sends
    here): ~0.05 ms of CPU per request against httpx's ~0.8 ms, so that on 2 cores the load
    generator takes as little as possible from the servers it measures."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._heads: dict[str, bytes] = {}  # path -> request line and fixed headers
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def _head(self, path: str) -> bytes:
        head = self._heads.get(path)
        if head is None:
            head = self._heads[path] = (
                f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
                "Content-Type: application/json\r\n"
            ).encode()
        return head

    async def post(
        self, path: str, body: bytes, headers: Sequence[tuple[str, str]]
    ) -> tuple[int, bytes]:
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        request = (
            self._head(path)
            + f"{extra}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )  # fmt: skip
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                reused = await self._connect()
                try:
                    return await self._exchange(request)
                except _ClosedBeforeAnswer:
                    if not reused:
                        raise
                # The server closed the idle connection (uvicorn's keep-alive timeout): retry once.
                await self.aclose()
                await self._connect()
                return await self._exchange(request)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            await self.aclose()
            raise SendError(type(exc).__name__) from exc

    async def _connect(self) -> bool:
        """Open the connection unless it is open; True when an open one is reused."""
        if self._reader is not None and not self._reader.at_eof():
            return True
        await self.aclose()
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        return False

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        assert self._reader is not None
        assert self._writer is not None
        self._writer.write(request)
        status_line = await self._reader.readline()
        if not status_line:
            raise _ClosedBeforeAnswer()
        status = int(status_line.split(b" ", 2)[1])
        length, close = 0, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ValueError("chunked answers are not supported")
        content = await self._reader.readexactly(length) if length else b""
        if close:
            await self.aclose()
        return status, content

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class _ClosedBeforeAnswer(ConnectionError):
    pass


class SenderPool:
    """``size`` senders; leasing one is what bounds the requests in flight."""

    def __init__(self, senders: list[Sender]) -> None:
        self.senders = senders
        self._idle: asyncio.Queue[Sender] = asyncio.Queue()
        for sender in senders:
            self._idle.put_nowait(sender)

    async def acquire(self) -> Sender:
        return await self._idle.get()

    def release(self, sender: Sender) -> None:
        self._idle.put_nowait(sender)

    async def aclose(self) -> None:
        await asyncio.gather(*(sender.aclose() for sender in self.senders))


def new_pool(kind: str, base_url: str, size: int) -> SenderPool:
    """``size`` senders of ``kind`` (``raw`` or ``httpx``) to ``base_url``."""
    if kind == "raw":
        url = httpx.URL(base_url)
        assert url.port is not None
        return SenderPool([RawSender(url.host, url.port) for _ in range(size)])
    return SenderPool([HttpxSender(base_url) for _ in range(size)])


# --- loops ------------------------------------------------------------------------------------


async def send(sender: Sender, request: Request) -> Sample:
    sent_at = time.time()
    started = time.perf_counter()
    try:
        status, content = await sender.post(request.path, request.body, request.headers)
    except SendError as exc:
        return Sample(sent_at, time.perf_counter() - started, None, "", str(exc))
    latency = time.perf_counter() - started
    return Sample(sent_at, latency, status, _ack_status(content), None, content)


_ACK_STATUS = re.compile(rb'"status"\s*:\s*"([a-z_]+)"')


def _ack_status(content: bytes) -> str:
    match = _ACK_STATUS.search(content)
    return match.group(1).decode() if match else ""


async def open_loop(pool: SenderPool, requests: Sequence[Request], rate: float) -> Run:
    """Send request i at start + i/rate, on whichever sender is free (never more than the
    pool's size in flight: when all are busy, sending falls behind schedule and ``max_lag``
    shows it)."""
    samples: list[Sample | None] = [None] * len(requests)
    tasks: list[asyncio.Task[None]] = []
    max_lag = 0.0

    async def one(index: int, request: Request, sender: Sender) -> None:
        try:
            samples[index] = await send(sender, request)
        finally:
            pool.release(sender)

    started = time.perf_counter()
    for index, request in enumerate(requests):
        due = started + index / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        sender = await pool.acquire()
        max_lag = max(max_lag, time.perf_counter() - due)
        tasks.append(asyncio.create_task(one(index, request, sender)))
    await asyncio.gather(*tasks)
    return Run(_complete(samples), time.perf_counter() - started, max_lag)


@dataclass
class Progress:
    """Answers so far, for a progress line while a loop runs."""

    answered: int = 0


async def closed_loop(
    pool: SenderPool, requests: Sequence[Request], progress: Progress | None = None
) -> Run:
    """Every sender sends its next request as soon as its previous one is answered."""
    queue: Iterator[tuple[int, Request]] = iter(enumerate(requests))
    samples: list[Sample | None] = [None] * len(requests)
    counter = progress if progress is not None else Progress()

    async def sender_loop(sender: Sender) -> None:
        for index, request in queue:
            samples[index] = await send(sender, request)
            counter.answered += 1

    started = time.perf_counter()
    await asyncio.gather(*(sender_loop(sender) for sender in pool.senders))
    return Run(_complete(samples), time.perf_counter() - started)


def _complete(samples: list[Sample | None]) -> list[Sample]:
    """Samples in request order; every request has one once its sender finished."""
    done = [s for s in samples if s is not None]
    if len(done) != len(samples):
        raise BenchError(f"{len(samples) - len(done)} requests have no result")
    return done
