"""The fault matrix's world, shared by ``tests/faults/test_matrix.py`` and ``bench.faults``.

* A Postgres of its own (``bench.pgcluster``) that a scenario crashes, stops or, through
  ``bench.hangproxy``, hangs.
* The sandboxes and the service as subprocesses, started exactly as a user starts them
  (``ordersync sandbox``, ``ordersync serve [--no-worker]``, ``ordersync worker``), never
  restarted unless the scenario says so.
* Lazada's side of the pushes (``Deliverer``): signed pushes at a fixed rate, each delivered
  again later when it was not answered 200, as Lazada does (every 30 minutes there; a second
  here), with every attempt's answer and latency kept.
* The end state, read straight from the database: every pushed line stored once, synced to what
  the sandbox holds, no push left pending or failed, no job parked, the spool empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import shutil
import signal
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from app.integrations.lazada.signing import push_signature
from bench.common import BenchError, expect, say
from bench.hangproxy import HangingProxy
from bench.lazada import FIRST_SELLER_ID, Push, connect_seller
from bench.load import Sample, SenderPool, new_pool, percentile, send
from bench.pgcluster import PgCluster
from bench.stack import (
    APP_KEY,
    APP_SECRET,
    HOST,
    Proc,
    free_port,
    ordersync_executable,
    service_env,
    spawn,
    spawn_sandboxes,
    wait_logged,
    wait_ready,
)

ACK_DEADLINE = 0.5  # Lazada counts an answer later than this as a failed delivery
RETRY_S = 1.0  # Lazada retries after 30 minutes; compressed here
DELIVERY_ATTEMPTS = 30
STARTUP_S = 120.0


@dataclass
class Delivery:
    """One push's fate: every attempt Lazada made to deliver it."""

    push: Push
    attempts: list[Sample] = field(default_factory=list)

    @property
    def acked(self) -> bool:
        return any(sample.status == 200 for sample in self.attempts)

    @property
    def first_sent(self) -> float:
        return self.attempts[0].sent_at


@dataclass
class Deliveries:
    items: list[Delivery]

    @property
    def answers(self) -> list[Sample]:
        return [sample for delivery in self.items for sample in delivery.attempts]

    def acks(self, start: float = 0.0, end: float = math.inf) -> list[Sample]:
        """The 200 answers to attempts sent in [start, end) (wall clock)."""
        return [s for s in self.answers if s.status == 200 and start <= s.sent_at < end]

    def late_acks(self) -> list[Sample]:
        return [s for s in self.acks() if s.latency >= ACK_DEADLINE]

    def outcomes(self) -> dict[str, int]:
        return dict(
            Counter(
                f"{s.status} {s.ack}".strip() if s.status is not None else f"no answer ({s.error})"
                for s in self.answers
            )
        )

    @property
    def unacked(self) -> list[Delivery]:
        return [d for d in self.items if not d.acked]

    def ack_p99(self, start: float = 0.0, end: float = math.inf) -> float:
        return percentile([s.latency for s in self.acks(start, end)], 99)

    def ack_max(self, start: float = 0.0, end: float = math.inf) -> float:
        return max((s.latency for s in self.acks(start, end)), default=math.nan)


class Deliverer:
    """Lazada's push sender: push i goes out at start + i/rate; one that is not answered 200
    goes out again ``RETRY_S`` later, until it is (or ``DELIVERY_ATTEMPTS`` run out)."""

    def __init__(self, base_url: str, *, senders: int = 256) -> None:
        self._pool: SenderPool = new_pool("raw", base_url, senders)

    async def run(self, pushes: Sequence[Push], rate: float) -> Deliveries:
        deliveries = [Delivery(push) for push in pushes]

        async def deliver(delivery: Delivery) -> None:
            for _ in range(DELIVERY_ATTEMPTS):
                sender = await self._pool.acquire()
                try:
                    sample = await send(sender, delivery.push)
                finally:
                    self._pool.release(sender)
                delivery.attempts.append(sample)
                if sample.status == 200:
                    return
                await asyncio.sleep(RETRY_S)

        started = time.perf_counter()
        tasks = []
        for index, delivery in enumerate(deliveries):
            if (delay := started + index / rate - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(deliver(delivery)))
        await asyncio.gather(*tasks)
        return Deliveries(deliveries)

    async def aclose(self) -> None:
        await self._pool.aclose()


@dataclass
class EndState:
    """What the database holds for the pushes sent, compared with what the sandbox holds."""

    lines_pushed: int
    inbox_rows: int  # rows for those lines: exactly one each when nothing was stored twice
    inbox_states: dict[str, int]
    lines_synced: int  # lines whose stored item status equals the sandbox's
    orders_stored: int
    orders_partial: int  # orders with some but not all of their items: half-written
    failed_jobs: int
    active_jobs: int
    spool_files: int
    spool_rejected: int  # records the drainer set aside (never, unless Postgres refused them)

    @property
    def converged(self) -> bool:
        return (
            self.inbox_rows == self.lines_pushed
            and self.inbox_states == {"processed": self.lines_pushed}
            and self.lines_synced == self.lines_pushed
            and self.orders_partial == 0
            and self.failed_jobs == 0
            and self.active_jobs == 0
            and self.spool_files == 0
            and self.spool_rejected == 0
        )

    def describe(self) -> str:
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.inbox_states.items())) or "none"
        return (
            f"{self.lines_pushed} lines pushed; inbox {self.inbox_rows} rows ({states}); "
            f"{self.lines_synced} lines synced; {self.orders_stored} orders stored, "
            f"{self.orders_partial} partial; jobs failed {self.failed_jobs}, active "
            f"{self.active_jobs}; spool {self.spool_files} files, {self.spool_rejected} set aside"
        )


_LINES_SQL = """
SELECT o.external_order_id, i.external_item_id, i.status,
       count(*) OVER (PARTITION BY o.id) AS items_of_order
FROM orders o JOIN order_items i ON i.order_id = o.id
WHERE o.external_order_id = ANY($1::text[])
"""
_INBOX_SQL = """
SELECT state, count(*) FROM external_events
WHERE source = 'lazada' AND external_order_id = ANY($1::text[]) GROUP BY state
"""
_PENDING_SQL = """
SELECT id, external_order_id, external_line_id, received_at, attempts, last_error
FROM external_events
WHERE state <> 'processed' AND external_order_id = ANY($1::text[])
ORDER BY id
"""
_JOBS_SQL = """
SELECT count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status IN ('queued', 'picked'))
FROM pgqueuer
"""


@dataclass
class World:
    """Everything a scenario runs against; ``close()`` stops it all."""

    layout: str  # "inline" (serve with its worker) or "split" (serve --no-worker + worker)
    run_dir: Path
    cluster: PgCluster
    proxy: HangingProxy | None
    env: dict[str, str]
    urls: dict[str, str]
    sandbox_proc: Proc
    service: Proc
    worker: Proc | None
    sandbox: httpx.AsyncClient
    api: httpx.AsyncClient
    sellers: dict[str, uuid.UUID] = field(default_factory=dict)
    sandbox_items: dict[tuple[str, str], str] = field(default_factory=dict)
    items_per_order: int = 3
    _restarts: int = 0

    @property
    def spool_dir(self) -> Path:
        return Path(self.env["ORDERSYNC_SPOOL_DIR"])

    def spool_files(self) -> int:
        return sum(1 for _ in self.spool_dir.glob("*.rec")) if self.spool_dir.exists() else 0

    def pids(self) -> tuple[int, int | None]:
        return self.service.pid, self.worker_pid()

    def worker_pid(self) -> int | None:
        return None if self.worker is None else self.worker.pid

    def alive(self) -> bool:
        return self.service.alive() and (self.worker is None or self.worker.alive())

    def log_count(self, text: str) -> int:
        """Lines containing ``text`` in every log of the run (restarted processes included)."""
        return sum(
            path.read_text(errors="replace").count(text) for path in self.run_dir.glob("*.log")
        )

    def rerun_notes(self) -> list[str]:
        reruns = self.log_count("worker.job.rerun_after_outage")
        restarts = self.log_count("supervisor.loop.failed") + self.log_count(
            "supervisor.loop.crashed"
        )
        return [f"{reruns} jobs ran again after the outage; {restarts} loop restarts logged"]

    # --- faults ---------------------------------------------------------------------------

    async def wait_syncs_in_flight(self, within: float) -> None:
        """Until a sync job is running (picked), e.g. waiting on a slow Lazada answer."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            db = await self._db()
            try:
                picked = await db.fetchval(
                    "SELECT count(*) FROM pgqueuer WHERE status = 'picked' "
                    "AND entrypoint = 'lazada.account.sync'"
                )
            finally:
                await db.close()
            if picked:
                return
            await asyncio.sleep(0.05)
        raise BenchError(f"no sync job was running within {within}s")

    async def wait_spool_empty(self, *, since: float, within: float = 600) -> float:
        """Seconds from ``since`` (wall clock) until the spool is empty."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.spool_files():
                break
            await asyncio.sleep(0.05)
        return time.time() - since

    async def crash_postgres(self) -> None:
        await asyncio.to_thread(self.cluster.stop, "immediate")

    async def stop_postgres(self) -> None:
        await asyncio.to_thread(self.cluster.stop, "fast")

    async def start_postgres(self) -> None:
        await asyncio.to_thread(self.cluster.start)

    def kill_service(self) -> None:
        """SIGKILL: no shutdown, no flush; what the spool holds must survive."""
        os.kill(self.service.pid, signal.SIGKILL)
        self.service.popen.wait(10)

    async def start_service(self) -> None:
        self._restarts += 1
        self.service = _start_service(
            self.layout, self.env, self.urls, self.run_dir, name=f"service-{self._restarts}"
        )
        await wait_ready(self.service, f"{self.urls['service']}/healthz", STARTUP_S)

    # --- data -----------------------------------------------------------------------------

    async def connect_sellers(self, count: int) -> None:
        for n in range(count):
            seller_id = str(FIRST_SELLER_ID + n)
            self.sellers[seller_id] = await connect_seller(self.sandbox, self.api, seller_id)

    async def make_pushes(self, orders: int) -> list[Push]:
        """``orders`` orders in the sandbox spread over the sellers, not pushed by it: the
        signed pushes Lazada would send for them (one per line), the sellers' interleaved as a
        marketplace's traffic is."""
        per_seller = math.ceil(orders / len(self.sellers))
        groups: list[list[Push]] = []
        for seller_id in self.sellers:
            response = await self.sandbox.post(
                "/_sandbox/orders/bulk",
                json={
                    "seller_id": seller_id,
                    "count": per_seller,
                    "items_per_order": self.items_per_order,
                    "pushes": True,
                },
            )
            expect(response, 200, "create sandbox orders")
            groups.append([self._signed(body.encode()) for body in response.json()["pushes"]])
        return [
            group[i] for i in range(max(map(len, groups))) for group in groups if i < len(group)
        ]

    def _signed(self, body: bytes) -> Push:
        data = orjson.loads(body)["data"]
        order_id, line_id = data["trade_order_id"], data["trade_order_line_id"]
        self.sandbox_items[(order_id, line_id)] = data["order_status"]
        return Push(order_id, line_id, body, push_signature(APP_KEY, APP_SECRET, body))

    # --- the end state --------------------------------------------------------------------

    async def _db(self) -> Any:
        """A fresh connection straight to the cluster (not through the proxy)."""
        return await asyncpg.connect(
            f"postgresql://postgres@127.0.0.1:{self.cluster.port}/ordersync", timeout=5
        )

    async def end_state(self, pushes: Sequence[Push]) -> EndState:
        order_ids = sorted({push.order_id for push in pushes})
        lines = {push.key for push in pushes}
        db = await self._db()
        try:
            rows = await db.fetch(_LINES_SQL, order_ids)
            inbox = {row[0]: int(row[1]) for row in await db.fetch(_INBOX_SQL, order_ids)}
            failed, active = await db.fetchrow(_JOBS_SQL)
        finally:
            await db.close()
        synced = sum(
            1
            for row in rows
            if (row[0], row[1]) in lines and self.sandbox_items.get((row[0], row[1])) == row[2]
        )
        per_order = {row[0]: int(row[3]) for row in rows}
        return EndState(
            lines_pushed=len(lines),
            inbox_rows=sum(inbox.values()),
            inbox_states=inbox,
            lines_synced=synced,
            orders_stored=len(per_order),
            orders_partial=sum(1 for n in per_order.values() if n != self.items_per_order),
            failed_jobs=int(failed),
            active_jobs=int(active),
            spool_files=self.spool_files(),
            spool_rejected=len(list((self.spool_dir / "rejected").glob("*.rec"))),
        )

    async def listening_connections(self) -> int:
        """The worker's connections waiting on LISTEN (PgQueuer keeps one per queue loop)."""
        db = await self._db()
        try:
            count = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'ordersync-worker-queue' AND query ILIKE 'LISTEN%'"
            )
        finally:
            await db.close()
        return int(count)

    async def diagnose(self, pushes: Sequence[Push]) -> str:
        """What is left undone, for a failure message: pending pushes, their orders' jobs, and
        the loops' complaints in the logs."""
        order_ids = sorted({push.order_id for push in pushes})
        db = await self._db()
        try:
            pending = await db.fetch(_PENDING_SQL, order_ids)
            jobs = await db.fetch(
                "SELECT id, status::text, dedupe_key, attempts, updated FROM pgqueuer "
                "WHERE dedupe_key LIKE ANY($1::text[])",
                [f"%:{row['external_order_id']}%" for row in pending] or ["-"],
            )
        finally:
            await db.close()
        lines = [f"pending: {dict(row)}" for row in pending[:10]]
        lines += [f"job: {dict(row)}" for row in jobs[:10]]
        for path in sorted(self.run_dir.glob("*.log")):
            complaints = [
                line
                for line in path.read_text(errors="replace").splitlines()
                if "supervisor." in line or "[error" in line or "worker.job" in line
            ]
            lines += [f"{path.name}: {line[:240]}" for line in complaints[-15:]]
        return "\n".join(lines)

    async def wait_converged(self, pushes: Sequence[Push], within: float) -> tuple[EndState, float]:
        """Poll the end state until it converges (or ``within`` passes); returns it and the
        seconds waited."""
        started = time.monotonic()
        next_report = started + 10
        while True:
            try:
                state = await self.end_state(pushes)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                state = None
            if state is not None and state.converged:
                return state, time.monotonic() - started
            if time.monotonic() - started > within:
                if state is None:
                    raise BenchError("the database did not answer")
                return state, time.monotonic() - started
            if time.monotonic() > next_report and state is not None:
                say(f"  … {state.describe()}")
                next_report += 10
            await asyncio.sleep(0.25)

    async def close(self) -> None:
        for proc in (self.worker, self.service, self.sandbox_proc):
            if proc is not None:
                await asyncio.to_thread(proc.stop)
        await self.sandbox.aclose()
        await self.api.aclose()
        if self.proxy is not None:
            await self.proxy.stop()
        await asyncio.to_thread(self.cluster.destroy)
        if os.environ.get("ORDERSYNC_KEEP_RUN_DIR"):
            say(f"logs kept in {self.run_dir}")
        else:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def _start_service(
    layout: str, env: dict[str, str], urls: dict[str, str], run_dir: Path, *, name: str
) -> Proc:
    port = httpx.URL(urls["service"]).port
    argv = [ordersync_executable(), "serve", "--host", HOST, "--port", str(port)]
    if layout == "split":
        argv.append("--no-worker")  # the worker runs as its own process, as in docker-compose
    return spawn(name, argv, env=env, cwd=run_dir)


async def open_world(
    *,
    layout: str = "inline",
    through_proxy: bool = False,
    sellers: int = 10,
    items_per_order: int = 3,
    settings: dict[str, str] | None = None,
) -> World:
    """Start everything; the caller must ``await world.close()``."""
    run_dir = Path(tempfile.mkdtemp(prefix="ordersync-faults-"))
    cluster = await asyncio.to_thread(PgCluster.create)
    proxy: HangingProxy | None = None
    db_port = cluster.port
    if through_proxy:
        proxy = HangingProxy(cluster.port)
        await proxy.start()
        db_port = proxy.port
    names = ["sandbox", "shoplazza", "newegg", "service", "worker_health"]
    ports = {name: free_port() for name in names}
    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    token = "faults-" + secrets.token_hex(12)
    env = service_env(urls, token, "info")
    env["DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{db_port}/ordersync"
    env["ORDERSYNC_SPOOL_DIR"] = str(run_dir / "spool")
    env["ORDERSYNC_DATA_DIR"] = str(run_dir / "data")
    env.update(settings or {})
    exe = ordersync_executable()
    sandbox_proc = spawn_sandboxes(ports, urls, env, run_dir)
    sandbox = httpx.AsyncClient(base_url=urls["sandbox"], timeout=60)
    api = httpx.AsyncClient(
        base_url=urls["service"], timeout=30, headers={"Authorization": f"Bearer {token}"}
    )
    started: list[Proc] = [sandbox_proc]
    try:
        await wait_ready(sandbox_proc, f"{urls['sandbox']}/_sandbox/calls", STARTUP_S)
        service = _start_service(layout, env, urls, run_dir, name="service")
        started.append(service)
        await wait_ready(service, f"{urls['service']}/healthz", STARTUP_S)
        worker: Proc | None = None
        if layout == "split":
            worker = spawn(
                "worker",
                [exe, "worker", "--health-port", str(ports["worker_health"])],
                env=env,
                cwd=run_dir,
            )
            started.append(worker)
            await wait_logged(worker, "worker.started", STARTUP_S)
        world = World(
            layout, run_dir, cluster, proxy, env, urls, sandbox_proc, service, worker, sandbox, api
        )
        world.items_per_order = items_per_order
        await world.connect_sellers(sellers)
    except BaseException:
        for proc in reversed(started):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(proc.stop)
        await sandbox.aclose()
        await api.aclose()
        if proxy is not None:
            await proxy.stop()
        await asyncio.to_thread(cluster.destroy)
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    say(f"world up: {layout}, Postgres on {cluster.port}" + (" via a proxy" if proxy else ""))
    return world
