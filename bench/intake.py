"""Intake benchmark: signed Lazada pushes against ``ordersync serve`` wired to the sandbox.

    .venv/bin/python -m bench.intake [--pushes N] [--concurrency C] [--rate R] [--orders-items K]
        [--sellers S] [--client httpx|raw] [--separate-worker] [--burst-pushes M]

Everything runs as subprocesses on free 127.0.0.1 ports: the Lazada sandbox, the service (API,
webhook and worker in one process, on a throw-away database) and a bare FastAPI endpoint that
only answers 200. This process is the load generator. Orders are spread round-robin over S
sellers, because the service paces its Lazada calls per seller. Phases:

* warm-up: a few pushes to both servers, so that pools and lazy imports are ready;
* A (open loop): N pushes at a fixed rate, then wait until every order line's status is stored;
* B (closed loop): C concurrent senders as fast as they can, against the bare endpoint and then
  against our webhook, with fresh pushes; the ratio of the two is our overhead.

It is a benchmark, not a test: it prints PASS/FAIL against the targets but exits 0 unless
something crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import httpx
import orjson
import psutil  # type: ignore[import-untyped,unused-ignore]
from sqlalchemy.engine import make_url

from app.db import EMBEDDED_DB_NAME, to_libpq_url
from app.integrations.lazada.signing import push_signature
from app.integrations.ratelimit import LIMITS

HOST = "127.0.0.1"  # every server listens on loopback only
REPO_ROOT = Path(__file__).resolve().parent.parent
APP_KEY = "100200"
APP_SECRET = "bench-secret-0123456789abcdef"
FIRST_SELLER_ID = 300400500000  # sellers are FIRST_SELLER_ID, +1, +2...
LAZADA_CALLS_PER_SYNC = 2  # /order/get and /order/items/get
COUNTRY = "vn"
PUSHED_STATUS = "pending"  # what the sandbox's new items are, and what the pushes report

TARGET_RATE = 300.0
TARGET_P99_S = 0.050
TARGET_RATIO = 0.5

WEBHOOK_PATH = "/webhooks/lazada"
REQUEST_TIMEOUT_S = 30.0
SERVER_GROUPS = ("service", "worker", "postgres", "sandbox", "bare")
STALL_S = 10.0  # a drain with no progress and no queued job for this long is stuck
QUIET_SHARE = 0.05  # servers "at rest" below this share of a core
CLIENT_BOUND_SHARE = 0.6  # load generator CPU above which a closed-loop figure is client-bound
STARTUP_DEADLINE_S = 180.0  # the first embedded Postgres start runs initdb and migrations
SHORT_STARTUP_DEADLINE_S = 60.0


class BenchError(RuntimeError):
    """Something the benchmark needs did not happen (a server did not start, a call failed)."""


_T0 = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", flush=True)


# --- options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    pushes: int
    concurrency: int
    rate: float
    items: int
    burst_pushes: int
    warmup_pushes: int
    log_level: str
    client: str
    separate_worker: bool
    sellers: int


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.intake", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--pushes", type=int, default=3000, help="pushes in phase A (3000)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="in-flight bound, and phase B senders (64)"
    )
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="phase A pushes/s (300)")
    parser.add_argument(
        "--orders-items",
        "--items-per-order",
        dest="items",
        type=int,
        default=3,
        help="order lines per order, one push each (3)",
    )
    parser.add_argument(
        "--burst-pushes", type=int, default=None, help="pushes per server in phase B (= --pushes)"
    )
    parser.add_argument("--warmup-pushes", type=int, default=60, help="warm-up pushes (60)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the service's ORDERSYNC_LOG_LEVEL (info, its default)",
    )
    parser.add_argument(
        "--client",
        default="httpx",
        choices=["httpx", "raw"],
        help="load generator: httpx (default) or a minimal asyncio HTTP/1.1 client that needs "
        "~15x less CPU, leaving more of the 2 cores to the servers",
    )
    parser.add_argument(
        "--separate-worker",
        action="store_true",
        help="run the worker as its own process (serve --no-worker + ordersync worker) instead "
        "of inside the service, to see the intake's cost apart from the worker's",
    )
    parser.add_argument(
        "--sellers",
        type=int,
        default=200,
        help="sellers the orders are spread over (200); the service paces Lazada calls per "
        "seller, so too few sellers measure its rate limit instead of its throughput",
    )
    args = parser.parse_args(argv)
    for name in ("pushes", "concurrency", "items", "warmup_pushes", "sellers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.rate <= 0:
        parser.error("--rate must be positive")
    burst = args.burst_pushes if args.burst_pushes is not None else args.pushes
    if burst < 1:
        parser.error("--burst-pushes must be at least 1")
    return Options(
        pushes=args.pushes,
        concurrency=args.concurrency,
        rate=args.rate,
        items=args.items,
        burst_pushes=burst,
        warmup_pushes=args.warmup_pushes,
        log_level=args.log_level,
        client=args.client,
        separate_worker=args.separate_worker,
        sellers=args.sellers,
    )


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


# --- subprocesses -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT, then SIGKILL if it does not exit in time.

        Not SIGTERM: uvicorn shuts down gracefully on both but then re-raises the signal, and
        SIGTERM's default action ends the process without running atexit hooks, which is where
        pgserver stops the embedded Postgres. SIGINT becomes KeyboardInterrupt and they run.
        """
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                say(f"{self.name} did not stop in {timeout:.0f}s; killing pid {self.pid}")
                self.popen.kill()
                self.popen.wait(10)


def spawn(name: str, argv: list[str], *, env: Mapping[str, str], cwd: Path) -> Proc:
    log_path = cwd / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop them in order
        )
    return Proc(name, popen, log_path)


def ordersync_executable() -> str:
    beside = Path(sys.executable).with_name("ordersync")
    found = str(beside) if beside.exists() else shutil.which("ordersync")
    if not found:
        raise BenchError("the ordersync command is not installed (pip install -e .)")
    return found


async def wait_logged(proc: Proc, text: str, deadline_s: float) -> None:
    """Poll ``proc``'s log until ``text`` appears (for processes without an HTTP endpoint)."""
    deadline = time.monotonic() + deadline_s
    while text not in proc.log_text():
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"{proc.name} not ready after {deadline_s:.0f}s:\n{proc.tail()}")
        await asyncio.sleep(0.1)


async def wait_ready(proc: Proc, url: str, deadline_s: float) -> None:
    """Poll ``url`` until it answers 200; fail early if the process dies."""
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if not proc.alive():
                raise BenchError(
                    f"{proc.name} exited with {proc.popen.returncode} during start-up:\n"
                    + proc.tail()
                )
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(url)).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"{proc.name} not ready after {deadline_s:.0f}s:\n{proc.tail()}")
            await asyncio.sleep(0.1)


# --- the database -----------------------------------------------------------------------------


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(server_url: str) -> tuple[str, str]:
    """A fresh database on the configured server; returns its URL and name."""
    name = f"ordersync_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(to_libpq_url(server_url))
    try:
        await admin.execute(f"CREATE DATABASE {_quote_ident(name)}")
    finally:
        await admin.close()
    url = make_url(to_libpq_url(server_url)).set(database=name)
    return url.render_as_string(hide_password=False), name


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(to_libpq_url(server_url))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_quote_ident(name)} WITH (FORCE)")
    finally:
        await admin.close()


def postmaster(pgdata: Path) -> Any:
    """pgserver's view of the embedded Postgres in ``pgdata`` (None when not running)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset, harmless here
        from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info if info is not None and info.is_running() else None


def embedded_url(pgdata: Path) -> str:
    info = postmaster(pgdata)
    if info is None:
        raise BenchError(f"no embedded Postgres is running in {pgdata}")
    return str(info.get_uri(database=EMBEDDED_DB_NAME))


def stop_embedded_postgres(pgdata: Path) -> None:
    """The service stops its embedded Postgres when it exits; this is the net under a kill."""
    info = postmaster(pgdata)
    if info is None:
        return
    say(f"embedded Postgres (pid {info.pid}) still running after the service stopped; stopping")
    info.process.send_signal(signal.SIGINT)  # Postgres' "fast" shutdown
    try:
        info.process.wait(15)
    except psutil.TimeoutExpired:
        info.process.kill()


_STORED_SQL = """
SELECT o.external_order_id, i.external_item_id,
       (SELECT min(c.recorded_at) FROM order_item_status_changes c
         WHERE c.order_item_id = i.id AND c.to_status = $3) AS stored_at
FROM orders o JOIN order_items i ON i.order_id = o.id
WHERE o.account_id = ANY($1::uuid[]) AND o.external_order_id = ANY($2::text[])
"""
_INBOX_SQL = """
SELECT external_order_id, external_line_id, state FROM external_events
WHERE source = 'lazada' AND seller_id = ANY($1::text[]) AND external_order_id = ANY($2::text[])
"""
_ACTIVE_JOBS_SQL = "SELECT count(*) FROM pgqueuer WHERE status IN ('queued', 'picked')"

LineKey = tuple[str, str]  # (order id, order line id)


@dataclass
class Drained:
    stored_at: dict[LineKey, float]  # wall-clock seconds when the pushed status was stored
    inbox_states: dict[LineKey, str]
    active_jobs: int
    waited_s: float
    complete: bool


async def read_progress(
    db: Any, accounts: Mapping[str, uuid.UUID], order_ids: list[str]
) -> tuple[dict[LineKey, float], dict[LineKey, str], int]:
    stored = {
        (row[0], row[1]): row[2].timestamp()
        for row in await db.fetch(_STORED_SQL, list(accounts.values()), order_ids, PUSHED_STATUS)
        if row[2] is not None
    }
    rows = await db.fetch(_INBOX_SQL, list(accounts), order_ids)
    inbox = {(row[0], row[1]): row[2] for row in rows}
    active = int(await db.fetchval(_ACTIVE_JOBS_SQL))
    return stored, inbox, active


_PENDING_SQL = """
SELECT id, external_order_id, external_line_id, received_at, attempts, last_error
FROM external_events
WHERE state = 'pending' AND seller_id = ANY($1::text[]) AND external_order_id = ANY($2::text[])
ORDER BY id LIMIT 5
"""


async def show_pending(db: Any, accounts: Mapping[str, uuid.UUID], order_ids: list[str]) -> None:
    """The first inbox rows still pending, to tell a stuck push from a slow one."""
    for row in await db.fetch(_PENDING_SQL, list(accounts), order_ids):
        age = time.time() - row["received_at"].timestamp()
        say(
            f"  still pending: event {row['id']} order {row['external_order_id']} line "
            f"{row['external_line_id']}, received {age:.0f}s ago, attempts {row['attempts']}, "
            f"last error {row['last_error']!r}"
        )


async def wait_drained(
    db: Any, accounts: Mapping[str, uuid.UUID], pushes: Sequence[Push], deadline_s: float
) -> Drained:
    """Poll until every line's status is stored, no push is pending and no job is queued."""
    order_ids = sorted({push.order_id for push in pushes})
    expected = len(pushes)
    started = last_change = time.monotonic()
    next_report = started + 5.0
    last_seen: tuple[int, int, int] | None = None
    while True:
        stored, inbox, active = await read_progress(db, accounts, order_ids)
        pending = sum(1 for state in inbox.values() if state == "pending")
        now = time.monotonic()
        waited = now - started
        if len(stored) >= expected and pending == 0 and active == 0:
            return Drained(stored, inbox, active, waited, complete=True)
        if (len(stored), pending, active) != last_seen:
            last_seen, last_change = (len(stored), pending, active), now
        if active == 0 and now - last_change > STALL_S:
            say(f"nothing moved for {STALL_S:.0f}s with no job queued: stopped waiting")
            await show_pending(db, accounts, order_ids)
            return Drained(stored, inbox, active, waited, complete=False)
        if waited > deadline_s:
            say(f"gave up waiting after {deadline_s:.0f}s")
            await show_pending(db, accounts, order_ids)
            return Drained(stored, inbox, active, waited, complete=False)
        if time.monotonic() >= next_report:
            say(f"  … {len(stored)}/{expected} lines stored, {pending} pending, {active} jobs")
            next_report += 5.0
        await asyncio.sleep(0.2)


# --- fixtures: seller, account, orders, pushes ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Push:
    order_id: str
    line_id: str
    body: bytes
    signature: str

    @property
    def key(self) -> LineKey:
        return (self.order_id, self.line_id)


def make_push(seller_id: str, order_id: str, line_id: str) -> Push:
    """A trade-order push as Lazada sends it: compact JSON, signed over app key + raw body."""
    now = time.time()
    body = orjson.dumps(
        {
            "seller_id": seller_id,
            "message_type": 0,
            "data": {
                "order_status": PUSHED_STATUS,
                "trade_order_id": order_id,
                "trade_order_line_id": line_id,
                "status_update_time": int(now),
                "buyer_id": "1",
            },
            "timestamp": int(now * 1000),
            "site": f"lazada_{COUNTRY}",
        }
    )
    return Push(order_id, line_id, body, push_signature(APP_KEY, APP_SECRET, body))


async def connect_seller(
    sandbox: httpx.AsyncClient, api: httpx.AsyncClient, seller_id: str
) -> uuid.UUID:
    """The seller in the sandbox and its account in our service; returns the account id."""
    seller = await sandbox.post(
        "/_sandbox/sellers", json={"seller_id": seller_id, "country": COUNTRY}
    )
    _expect(seller, 200, "create a sandbox seller")
    tokens = seller.json()
    account = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "lazada",
            "seller_id": seller_id,
            "country": COUNTRY,
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
        },
    )
    _expect(account, 201, "create an account")
    return uuid.UUID(account.json()["id"])


async def connect_sellers(
    sandbox: httpx.AsyncClient, api: httpx.AsyncClient, count: int
) -> dict[str, uuid.UUID]:
    """``count`` sellers; returns their account ids by seller id."""
    gate = asyncio.Semaphore(8)
    seller_ids = [str(FIRST_SELLER_ID + n) for n in range(count)]

    async def one(seller_id: str) -> uuid.UUID:
        async with gate:
            return await connect_seller(sandbox, api, seller_id)

    account_ids = await asyncio.gather(*(one(seller_id) for seller_id in seller_ids))
    return dict(zip(seller_ids, account_ids, strict=True))


async def create_order(sandbox: httpx.AsyncClient, seller_id: str, items: int) -> list[Push]:
    """An order in the sandbox, not pushed by it: we send its pushes (one per line) ourselves."""
    response = await sandbox.post(
        "/_sandbox/orders",
        json={
            "seller_id": seller_id,
            "items": [{"sku": f"BENCH-{n}", "name": f"Bench item {n}"} for n in range(items)],
            "push": False,
        },
    )
    _expect(response, 200, "create a sandbox order")
    document = response.json()
    order_id = str(document["order"]["order_id"])
    lines = [str(item["order_item_id"]) for item in document["items"]]
    return [make_push(seller_id, order_id, line) for line in lines]


async def create_pushes(
    sandbox: httpx.AsyncClient, sellers: Sequence[str], pushes: int, items: int
) -> list[Push]:
    """Orders for ``pushes`` pushes, round-robin over the sellers; an order's pushes are next to
    each other, as Lazada sends them."""
    orders = math.ceil(pushes / items)
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> list[Push]:
        async with gate:
            return await create_order(sandbox, sellers[n % len(sellers)], items)

    batches = await asyncio.gather(*(one(n) for n in range(orders)))
    return [push for batch in batches for push in batch][:pushes]


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise BenchError(f"could not {what}: HTTP {response.status_code} {response.text[:500]}")


# --- load generation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    sent_at: float  # wall clock, comparable with the database's timestamps
    latency: float  # seconds from sending to the whole answer
    status: int | None  # None: no HTTP answer
    ack: str  # our answer's "status" (accepted, duplicate, spooled); "" for the bare endpoint
    error: str | None


@dataclass
class Run:
    samples: list[Sample]  # in the order of the pushes sent
    elapsed: float  # first send to last answer
    max_lag: float = 0.0  # open loop: the worst delay behind schedule
    cpu: dict[str, float] = field(default_factory=dict)  # share of a core per process group

    @property
    def acked(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 200]

    def answered(self, ack: str) -> int:
        return sum(1 for s in self.samples if s.status == 200 and s.ack == ack)

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


class SendError(Exception):
    """No HTTP answer (connection refused or reset, timeout, unparsable response)."""


class Sender(Protocol):
    """One keep-alive HTTP/1.1 connection that POSTs pushes to the webhook path."""

    async def post(self, body: bytes, signature: str) -> tuple[int, bytes]: ...

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

    async def post(self, body: bytes, signature: str) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Authorization": signature}
        try:
            response = await self._client.post(WEBHOOK_PATH, content=body, headers=headers)
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
        self._head = (
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, signature: str) -> tuple[int, bytes]:
        request = (
            self._head
            + (f"Authorization: {signature}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
            + body
        )
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
    if kind == "raw":
        url = httpx.URL(base_url)
        assert url.port is not None
        return SenderPool([RawSender(url.host, url.port) for _ in range(size)])
    return SenderPool([HttpxSender(base_url) for _ in range(size)])


async def send(sender: Sender, push: Push) -> Sample:
    sent_at = time.time()
    started = time.perf_counter()
    try:
        status, content = await sender.post(push.body, push.signature)
    except SendError as exc:
        return Sample(sent_at, time.perf_counter() - started, None, "", str(exc))
    latency = time.perf_counter() - started
    return Sample(sent_at, latency, status, _ack_status(content), None)


_ACK_STATUS = re.compile(rb'"status"\s*:\s*"([a-z_]+)"')


def _ack_status(content: bytes) -> str:
    match = _ACK_STATUS.search(content)
    return match.group(1).decode() if match else ""


async def open_loop(pool: SenderPool, pushes: Sequence[Push], rate: float) -> Run:
    """Send push i at start + i/rate, on whichever sender is free (never more than the pool's
    size in flight: when all are busy, sending falls behind schedule and ``max_lag`` shows it)."""
    samples: list[Sample | None] = [None] * len(pushes)
    tasks: list[asyncio.Task[None]] = []
    max_lag = 0.0

    async def one(index: int, push: Push, sender: Sender) -> None:
        try:
            samples[index] = await send(sender, push)
        finally:
            pool.release(sender)

    started = time.perf_counter()
    for index, push in enumerate(pushes):
        due = started + index / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        sender = await pool.acquire()
        max_lag = max(max_lag, time.perf_counter() - due)
        tasks.append(asyncio.create_task(one(index, push, sender)))
    await asyncio.gather(*tasks)
    return Run(_complete(samples), time.perf_counter() - started, max_lag)


async def closed_loop(pool: SenderPool, pushes: Sequence[Push]) -> Run:
    """Every sender sends its next push as soon as its previous one is answered."""
    queue: Iterator[tuple[int, Push]] = iter(enumerate(pushes))
    samples: list[Sample | None] = [None] * len(pushes)

    async def sender_loop(sender: Sender) -> None:
        for index, push in queue:
            samples[index] = await send(sender, push)

    started = time.perf_counter()
    await asyncio.gather(*(sender_loop(sender) for sender in pool.senders))
    return Run(_complete(samples), time.perf_counter() - started)


def _complete(samples: list[Sample | None]) -> list[Sample]:
    """Samples in push order; every push has one once its sender finished."""
    done = [s for s in samples if s is not None]
    if len(done) != len(samples):
        raise BenchError(f"{len(samples) - len(done)} pushes have no result")
    return done


# --- CPU accounting ---------------------------------------------------------------------------


def _cpu_by_pid(pids: Sequence[int]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            seconds[pid] = times.user + times.system
    return seconds


Snapshot = dict[str, dict[int, float]]  # group -> pid -> CPU seconds so far


@dataclass
class CpuMeter:
    """CPU per group of processes between two points, per pid, so that processes which start
    in between count from zero; those which exit in between are missed (an undercount)."""

    groups: dict[str, Callable[[], list[int]]] = field(default_factory=dict)  # name -> pids

    def snapshot(self) -> Snapshot:
        return {name: _cpu_by_pid(find()) for name, find in self.groups.items()}

    def since(self, before: Snapshot, wall_s: float) -> dict[str, float]:
        """Each group's CPU since ``before`` as a share of one core over ``wall_s``."""
        shares = {}
        for name, now in self.snapshot().items():
            earlier = before.get(name, {})
            used = sum(max(0.0, cpu - earlier.get(pid, 0.0)) for pid, cpu in now.items())
            shares[name] = used / wall_s
        return shares


async def wait_quiet(cpu: CpuMeter, groups: Sequence[str], deadline_s: float = 20.0) -> float:
    """Wait until ``groups`` together use under QUIET_SHARE of a core; returns the seconds
    waited. So that one measurement does not pay for the tail of the previous one's work."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        before = cpu.snapshot()
        await asyncio.sleep(0.5)
        shares = cpu.since(before, 0.5)
        if sum(shares.get(group, 0.0) for group in groups) < QUIET_SHARE:
            break
    return time.monotonic() - started


def describe_cpu(shares: Mapping[str, float]) -> str:
    parts = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    return f"CPU, share of one core (2 in all): {parts}"


def postgres_pids(pgdata: Path) -> list[int]:
    info = postmaster(pgdata)
    if info is None:
        return []
    with contextlib.suppress(psutil.Error):
        return [info.pid, *(child.pid for child in info.process.children())]
    return []


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Stack:
    """The started world: URLs, clients, the database connection and the CPU meter."""

    options: Options
    sandbox: httpx.AsyncClient
    api: httpx.AsyncClient
    ours: SenderPool
    bare: SenderPool
    db: Any
    accounts: dict[str, uuid.UUID]  # seller id -> account id
    ordersync: list[Proc]  # the service, and the worker when it runs apart
    cpu: CpuMeter


@dataclass
class PhaseAResult:
    run: Run
    drained: Drained
    calls: int
    inboxed: int
    to_stored: list[float]


@dataclass
class PhaseBResult:
    ours: Run
    bare: Run
    drained: Drained
    calls: int
    inboxed: int

    @property
    def ratio(self) -> float:
        return self.ours.rate / self.bare.rate if self.bare.rate > 0 else math.nan


async def reset_calls(sandbox: httpx.AsyncClient) -> None:
    _expect(await sandbox.delete("/_sandbox/calls"), 200, "reset the sandbox call counters")


async def lazada_calls(sandbox: httpx.AsyncClient) -> tuple[int, dict[str, int]]:
    response = await sandbox.get("/_sandbox/calls")
    _expect(response, 200, "read the sandbox call counters")
    document = response.json()
    return int(document["total"]), dict(document["by_api"])


def count_inboxed(run: Run, pushes: Sequence[Push], drained: Drained) -> int:
    """How many pushes we got a 200 for have a row in external_events."""
    acked = {
        push.key for push, sample in zip(pushes, run.samples, strict=True) if sample.status == 200
    }
    return sum(1 for key in acked if key in drained.inbox_states)


def push_to_stored(run: Run, pushes: Sequence[Push], drained: Drained) -> tuple[list[float], int]:
    """Seconds from sending each acked push to its line's status being stored.

    A line can be stored before its own push is sent: one fetch stores the whole order, so
    the order's first push may bring its later lines in. Those count as 0 and are reported.
    """
    delays: list[float] = []
    early = 0
    for push, sample in zip(pushes, run.samples, strict=True):
        stored = drained.stored_at.get(push.key)
        if sample.status != 200 or stored is None:
            continue
        delay = stored - sample.sent_at
        early += delay < 0
        delays.append(max(0.0, delay))
    return delays, early


def describe_drain(drained: Drained, expected: int) -> str:
    states = Counter(drained.inbox_states.values())
    state_text = ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
    verdict = "complete" if drained.complete else "INCOMPLETE"
    return (
        f"drain {verdict} after {drained.waited_s:.1f}s: {len(drained.stored_at)}/{expected} line "
        f"statuses stored; inbox states: {state_text or 'none'}; jobs still active: "
        f"{drained.active_jobs}"
    )


def describe_rate_limit(options: Options) -> str:
    """What phase A asks of each seller's Lazada rate limit in the service."""
    rate, burst = LIMITS["lazada"]
    per_seller = options.rate / options.items * LAZADA_CALLS_PER_SYNC / options.sellers
    verdict = "fine" if per_seller <= rate / 2 else "TOO CLOSE: raise --sellers"
    return (
        f"the service paces Lazada calls at {rate:g}/s per seller (burst {burst:g}); phase A "
        f"needs up to {per_seller:.2f}/s per seller over {options.sellers} sellers: {verdict}"
    )


async def warm_up(stack: Stack, pushes: list[Push]) -> None:
    say(f"warming up: {len(pushes)} pushes to each server")
    ours = await closed_loop(stack.ours, pushes)  # every sender: all connections get opened
    await closed_loop(stack.bare, pushes)
    if ours.failed:
        say(f"warm-up had failures against our webhook: {ours.outcomes()}")
    drained = await wait_drained(stack.db, stack.accounts, pushes, 60.0)
    say(describe_drain(drained, len(pushes)))


async def phase_a(stack: Stack, pushes: list[Push]) -> PhaseAResult:
    options = stack.options
    say(
        f"phase A (open loop): {len(pushes)} pushes at {options.rate:.0f}/s, "
        f"at most {options.concurrency} in flight"
    )
    await reset_calls(stack.sandbox)
    settled = await wait_quiet(stack.cpu, SERVER_GROUPS)
    say(f"servers at rest after {settled:.1f}s; sending")
    before = stack.cpu.snapshot()
    run = await open_loop(stack.ours, pushes, options.rate)
    run.cpu = stack.cpu.since(before, run.elapsed)
    say(describe_cpu(run.cpu))
    say("phase A: waiting until every line's status is stored")
    drained = await wait_drained(stack.db, stack.accounts, pushes, 60.0 + len(pushes) / 20)
    calls, by_api = await lazada_calls(stack.sandbox)
    delays, early = push_to_stored(run, pushes, drained)
    result = PhaseAResult(run, drained, calls, count_inboxed(run, pushes, drained), delays)
    print_phase_a(result, len(pushes), by_api, early)
    return result


def print_phase_a(result: PhaseAResult, sent: int, by_api: Mapping[str, int], early: int) -> None:
    run = result.run
    print(f"  pushes sent        {sent}  (outcomes: {run.outcomes()})")
    print(f"  acked (HTTP 200)   {len(run.acked)}   failed {run.failed}")
    print(f"  achieved rate      {run.rate:.1f} acked/s over {run.elapsed:.2f}s", end="")
    print(f"  (worst lag behind schedule {ms(run.max_lag)})")
    print(
        f"  ack latency        p50 {ms(run.latency(50))}  p99 {ms(run.latency(99))}  "
        f"max {ms(run.max_latency)}"
    )
    delays = result.to_stored
    print(
        f"  push → stored      p50 {ms(percentile(delays, 50))}  p99 {ms(percentile(delays, 99))}"
        f"  max {ms(max(delays, default=math.nan))}  ({early} lines were stored before their own"
        " push was sent: counted as 0)"
    )
    print(
        f"  Lazada calls       {result.calls} = {result.calls / sent:.2f} per push  "
        f"({', '.join(f'{api} {n}' for api, n in sorted(by_api.items())) or 'none'})"
    )
    print(f"  stored: {result.inboxed}/{len(run.acked)} acked pushes are in external_events")
    print(f"  {describe_drain(result.drained, sent)}")


async def phase_b(stack: Stack, pushes: list[Push]) -> PhaseBResult:
    options = stack.options
    say(
        f"phase B (closed loop): {len(pushes)} pushes, {options.concurrency} concurrent senders, "
        "against the bare endpoint, then against our webhook"
    )
    say(
        "note: 2-core machine — the load generator (this process) competes with the servers "
        "for CPU, so both figures are lower bounds and the ratio is what to compare"
    )
    bare = await measured(stack, "bare", stack.bare, pushes)
    await reset_calls(stack.sandbox)
    ours = await measured(stack, "ours", stack.ours, pushes)
    say("phase B: waiting until every line's status is stored")
    drained = await wait_drained(stack.db, stack.accounts, pushes, 60.0 + len(pushes) / 10)
    calls, _ = await lazada_calls(stack.sandbox)
    result = PhaseBResult(ours, bare, drained, calls, count_inboxed(ours, pushes, drained))
    print_phase_b(result, len(pushes))
    return result


async def measured(stack: Stack, name: str, pool: SenderPool, pushes: list[Push]) -> Run:
    settled = await wait_quiet(stack.cpu, SERVER_GROUPS)
    say(f"  servers at rest after {settled:.1f}s; measuring {name}")
    before = stack.cpu.snapshot()
    run = await closed_loop(pool, pushes)
    run.cpu = stack.cpu.since(before, run.elapsed)
    say(f"  {name}: {run.rate:.0f} acked/s, p50 {ms(run.latency(50))}, p99 {ms(run.latency(99))}")
    say("  " + describe_cpu(run.cpu))
    if run.cpu.get("bench", 0.0) > CLIENT_BOUND_SHARE:
        say(
            f"  warning: the load generator itself used {run.cpu['bench']:.0%} of a core, so this "
            "figure is bounded by the client as much as by the server (try --client raw)"
        )
    return run


def print_phase_b(result: PhaseBResult, sent: int) -> None:
    for name, run in (("bare endpoint", result.bare), ("our webhook", result.ours)):
        print(
            f"  {name:<14} {run.rate:7.1f} req/s acked  ({len(run.acked)}/{sent} in "
            f"{run.elapsed:.2f}s; p50 {ms(run.latency(50))}, p99 {ms(run.latency(99))}, "
            f"max {ms(run.max_latency)}; outcomes: {run.outcomes()})"
        )
    print(f"  ratio ours/bare    {result.ratio:.2f}")
    for name, run in (("bare endpoint", result.bare), ("our webhook", result.ours)):
        per_push = {
            group: share * run.elapsed / max(1, len(run.acked)) for group, share in run.cpu.items()
        }
        text = ", ".join(f"{group} {seconds * 1000:.2f} ms" for group, seconds in per_push.items())
        print(f"  CPU per acked push, {name}: {text}")
    print(f"  Lazada calls       {result.calls} = {result.calls / sent:.2f} per push")
    print(
        f"  stored: {result.inboxed}/{len(result.ours.acked)} acked pushes are in external_events"
    )
    print(f"  {describe_drain(result.drained, sent)}")


def stored_ok(run: Run, pushes: Sequence[Push], drained: Drained, inboxed: int) -> bool:
    acked = [p.key for p, s in zip(pushes, run.samples, strict=True) if s.status == 200]
    return inboxed == len(acked) and all(key in drained.stored_at for key in acked)


def print_summary(
    options: Options, a: PhaseAResult, b: PhaseBResult, a_pushes: list[Push], b_pushes: list[Push]
) -> None:
    a_ok = (
        a.run.latency(99) < TARGET_P99_S
        and a.run.failed == 0
        and options.rate >= TARGET_RATE
        and a.run.rate >= 0.95 * options.rate
    )
    ratio_ok = b.ratio >= TARGET_RATIO
    all_stored = stored_ok(a.run, a_pushes, a.drained, a.inboxed) and stored_ok(
        b.ours, b_pushes, b.drained, b.inboxed
    )
    rows = [
        (
            f"p99 ack < {TARGET_P99_S * 1000:.0f} ms at {TARGET_RATE:.0f} pushes/s",
            f"p99 {ms(a.run.latency(99))} at {a.run.rate:.0f}/s, {a.run.failed} failed",
            a_ok,
        ),
        (
            f"throughput >= {TARGET_RATIO}x bare endpoint",
            f"{b.ratio:.2f}x ({b.ours.rate:.0f} vs {b.bare.rate:.0f} req/s)",
            ratio_ok,
        ),
        (
            "every accepted push stored",
            f"A {a.inboxed}/{len(a.run.acked)}, B {b.inboxed}/{len(b.ours.acked)} in inbox; "
            f"lines A {len(a.drained.stored_at)}/{len(a_pushes)}, "
            f"B {len(b.drained.stored_at)}/{len(b_pushes)}",
            all_stored,
        ),
    ]
    print()
    print("=== summary " + "=" * 88)
    print(
        f"phase A: {len(a_pushes)} pushes at {options.rate:.0f}/s → {a.run.rate:.1f} accepted/s; "
        f"ack p50 {ms(a.run.latency(50))} p99 {ms(a.run.latency(99))}; push→stored p50 "
        f"{ms(percentile(a.to_stored, 50))} p99 {ms(percentile(a.to_stored, 99))}; "
        f"{a.calls / len(a_pushes):.2f} Lazada calls/push; acks spooled {a.run.answered('spooled')}"
    )
    print(
        f"phase B: c={options.concurrency}: ours {b.ours.rate:.0f} req/s, bare {b.bare.rate:.0f} "
        f"req/s, ratio {b.ratio:.2f}; {b.calls / len(b_pushes):.2f} Lazada calls/push; "
        f"acks spooled {b.ours.answered('spooled')}"
    )
    print(f"{'target':<42} {'measured':<62} result")
    for target, measured_text, ok in rows:
        print(f"{target:<42} {measured_text:<62} {'PASS' if ok else 'FAIL'}")
    if options.rate < TARGET_RATE:
        print(f"(phase A ran at {options.rate:.0f}/s, below the {TARGET_RATE:.0f}/s target rate)")
    client_share = b.bare.cpu.get("bench", 0.0)
    print(
        f"load generator: {options.client}, in this process, on the same 2 cores; it used "
        f"{client_share:.0%} of a core during the bare run"
        + (
            " — the bare figure is client-bound, try --client raw"
            if client_share > CLIENT_BOUND_SHARE
            else ""
        )
    )


_LOG_PROBLEM = re.compile(r"\[(warning|error|critical)\s*\]|Traceback|ERROR|WARNING")


def report_log(proc: Proc) -> None:
    """Warnings and errors ``proc`` logged during the run (the first few distinct ones)."""
    lines = [line for line in proc.log_text().splitlines() if _LOG_PROBLEM.search(line)]
    if not lines:
        print(f"{proc.name} log: no warnings or errors")
        return
    print(f"{proc.name} log: {len(lines)} warning/error lines; first distinct ones:")
    seen: set[str] = set()
    for line in lines:
        shape = re.sub(r"\d+", "N", line[28:140])
        if shape not in seen:
            seen.add(shape)
            print(f"  {line[:300]}")
        if len(seen) >= 8:
            break


# --- wiring -----------------------------------------------------------------------------------


def service_env(sandbox_url: str, api_token: str, options: Options) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "LAZADA_APP_KEY": APP_KEY,
            "LAZADA_APP_SECRET": APP_SECRET,
            "LAZADA_API_BASE": f"{sandbox_url}/rest",
            "LAZADA_AUTH_BASE": f"{sandbox_url}/rest",
            "ORDERSYNC_API_TOKENS": api_token,
            "ORDERSYNC_LOG_LEVEL": options.log_level,
        }
    )
    # Credentials are stored encrypted: a throw-away Fernet key unless one is configured.
    if not env.get("ORDERSYNC_ENCRYPTION_KEYS"):
        env["ORDERSYNC_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(
            secrets.token_bytes(32)
        ).decode()
    # The migrations import ``migrations.helpers``, which is not installed with the package:
    # outside the repository root, ``serve`` cannot migrate without this.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


async def start_stack(options: Options, stack: contextlib.AsyncExitStack) -> Stack:
    run_dir = Path(tempfile.mkdtemp(prefix="ordersync-bench-"))
    stack.callback(shutil.rmtree, run_dir, ignore_errors=True)
    api_token = "bench-" + secrets.token_hex(12)
    ports = {name: free_port() for name in ("sandbox", "shoplazza", "newegg", "service", "bare")}
    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    env = service_env(urls["sandbox"], api_token, options)
    pgdata: Path | None = None

    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        say("DATABASE_URL is set: creating a fresh database for this run")
        database_url, name = await create_database(server_url)
        stack.push_async_callback(drop_database, server_url, name)
        env["DATABASE_URL"] = database_url
    else:
        data_dir = run_dir / "data"
        data_dir.mkdir()
        pgdata = data_dir / "pgdata"
        env.pop("DATABASE_URL", None)
        env["ORDERSYNC_DATA_DIR"] = str(data_dir)
        stack.callback(stop_embedded_postgres, pgdata)
        say(f"DATABASE_URL is unset: the service starts an embedded Postgres in {data_dir}")

    exe = ordersync_executable()
    say(f"starting the sandbox on {urls['sandbox']}")
    sandbox_proc = spawn(
        "sandbox",
        [exe, "sandbox", "--host", HOST, "--port", str(ports["sandbox"]), "--app-key", APP_KEY,
         "--app-secret", APP_SECRET, "--webhook-url", f"{urls['service']}/webhooks/lazada",
         # It also runs Shoplazza and Newegg stand-ins, on fixed ports unless told otherwise.
         "--shoplazza-port", str(ports["shoplazza"]), "--newegg-port", str(ports["newegg"])],
        env=env,
        cwd=run_dir,
    )  # fmt: skip
    stack.callback(sandbox_proc.stop)
    say(f"starting the service on {urls['service']}")
    service = spawn(
        "service",
        [exe, "serve", "--host", HOST, "--port", str(ports["service"])]
        + (["--no-worker"] if options.separate_worker else []),
        env=env,
        cwd=run_dir,
    )
    stack.callback(service.stop)
    say(f"starting the bare endpoint on {urls['bare']}")
    bare_proc = spawn(
        "bare",
        [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--app-dir", str(REPO_ROOT),
         "--host", HOST, "--port", str(ports["bare"]), "--log-level", "warning",
         "--no-access-log"],
        env=os.environ,
        cwd=run_dir,
    )  # fmt: skip
    stack.callback(bare_proc.stop)

    await wait_ready(sandbox_proc, f"{urls['sandbox']}/_sandbox/calls", SHORT_STARTUP_DEADLINE_S)
    await wait_ready(bare_proc, f"{urls['bare']}/healthz", SHORT_STARTUP_DEADLINE_S)
    await wait_ready(service, f"{urls['service']}/healthz", STARTUP_DEADLINE_S)
    worker: Proc | None = None
    if options.separate_worker:  # after serve, which has applied the migrations by now
        say("starting the worker as its own process")
        worker = spawn("worker", [exe, "worker"], env=env, cwd=run_dir)
        stack.callback(worker.stop)
        await wait_logged(worker, "worker.started", SHORT_STARTUP_DEADLINE_S)
    say("all three servers are up")

    db_url = env["DATABASE_URL"] if pgdata is None else embedded_url(pgdata)
    db = await asyncpg.connect(to_libpq_url(db_url))
    stack.push_async_callback(db.close)

    sandbox = await stack.enter_async_context(
        httpx.AsyncClient(base_url=urls["sandbox"], timeout=30)
    )
    api = await stack.enter_async_context(
        httpx.AsyncClient(
            base_url=urls["service"], timeout=30, headers={"Authorization": f"Bearer {api_token}"}
        )
    )
    ours = new_pool(options.client, urls["service"], options.concurrency)
    stack.push_async_callback(ours.aclose)
    bare = new_pool(options.client, urls["bare"], options.concurrency)
    stack.push_async_callback(bare.aclose)
    say(f"connecting {options.sellers} sellers (sandbox seller + our account each)")
    accounts = await connect_sellers(sandbox, api, options.sellers)

    cpu = CpuMeter()
    cpu.groups["service"] = lambda: [service.pid]
    if worker is not None:
        worker_pid = worker.pid
        cpu.groups["worker"] = lambda: [worker_pid]
    if pgdata is not None:
        cpu.groups["postgres"] = lambda: postgres_pids(pgdata)
    cpu.groups["sandbox"] = lambda: [sandbox_proc.pid]
    cpu.groups["bare"] = lambda: [bare_proc.pid]
    cpu.groups["bench"] = lambda: [os.getpid()]
    ordersync = [service] if worker is None else [service, worker]
    return Stack(options, sandbox, api, ours, bare, db, accounts, ordersync, cpu)


async def bench(options: Options) -> None:
    async with contextlib.AsyncExitStack() as exits:
        say(
            f"starting… pushes={options.pushes} rate={options.rate:g}/s "
            f"concurrency={options.concurrency} lines/order={options.items} "
            f"sellers={options.sellers} client={options.client} worker="
            f"{'separate process' if options.separate_worker else 'in the service process'}"
        )
        stack = await start_stack(options, exits)
        total = options.warmup_pushes + options.pushes + options.burst_pushes
        say(f"creating orders in the sandbox for {total} pushes ({options.items} lines each)")
        sellers = list(stack.accounts)
        warm = await create_pushes(stack.sandbox, sellers, options.warmup_pushes, options.items)
        a_pushes = await create_pushes(stack.sandbox, sellers, options.pushes, options.items)
        b_pushes = await create_pushes(stack.sandbox, sellers, options.burst_pushes, options.items)
        say(describe_rate_limit(options))
        await warm_up(stack, warm)
        a = await phase_a(stack, a_pushes)
        b = await phase_b(stack, b_pushes)
        print_summary(options, a, b, a_pushes, b_pushes)
        for proc in stack.ordersync:
            report_log(proc)
        say("stopping the servers")
    say("done")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:

        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            await bench(options)

        try:
            runner.run(run())
        except KeyboardInterrupt:
            say("interrupted; servers stopped")
            return 130
        except asyncio.CancelledError:
            say("terminated; servers stopped")
            return 143
        except BenchError as exc:
            say(f"benchmark failed: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
