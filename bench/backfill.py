"""Backfill benchmark: ``ordersync backfill`` of N orders from the Lazada sandbox over HTTP.

    .venv/bin/python -m bench.backfill [--orders N] [--items-per-order K] [--days D]

Everything runs as subprocesses on free 127.0.0.1 ports: the sandbox (``ordersync sandbox``)
and the API (``ordersync serve --no-worker``, to connect the seller as an operator would), on a
throw-away database: a fresh one on the server ``DATABASE_URL`` points at (dropped afterwards),
or an embedded Postgres in a temporary directory. The orders are seeded in one bulk call (no
pushes), created over the last D days; then ``ordersync backfill --since`` (D + 1 days ago) runs
as its own process, exactly as an operator runs it, and this script reads what it did: orders
stored (counted in Postgres), Lazada calls (counted by the sandbox), the run's own record.

Target: at most 0.05 Lazada calls per order (lazada.md §3.1, §3.4: 100 orders a list page,
50 orders an items call). The wall time is bounded by the client's pacing (``LIMITS`` in
app/integrations/ratelimit/), not by the database. It prints PASS/FAIL but exits 0 unless
something crashed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from app.db import start_embedded_postgres, to_libpq_url
from app.integrations.ratelimit import LIMITS

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
APP_KEY = "100200"
APP_SECRET = "bench-secret-0123456789abcdef"
API_TOKEN = "bench-token-0123456789"
SELLER_ID = "300400500000"
COUNTRY = "vn"
TARGET_CALLS_PER_ORDER = 0.05
STARTUP_DEADLINE_S = 180.0
COMMAND = (sys.executable, "-c", "from app.cli import main; main()")


def say(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(
            [*COMMAND, *args], env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


async def wait_http(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if child.poll() is not None:
                tail = (await asyncio.to_thread(log.read_text))[-3000:]
                raise RuntimeError(f"{url} exited early:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {STARTUP_DEADLINE_S:.0f}s")


@contextlib.asynccontextmanager
async def database(workdir: Path) -> AsyncIterator[str]:
    """A fresh database on DATABASE_URL's server (dropped afterwards), or an embedded one."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        say(f"DATABASE_URL is unset: embedded Postgres in {workdir}")
        url = await asyncio.to_thread(start_embedded_postgres, workdir, cleanup="delete")
        try:
            yield url
        finally:
            # Now, while its directory still exists: at exit pg_ctl would find it gone.
            await asyncio.to_thread(_stop_embedded, workdir / "pgdata")
        return
    name = f"ordersync_bench_{uuid.uuid4().hex[:10]}"
    say(f"DATABASE_URL is set: creating database {name} for this run")
    admin = await asyncpg.connect(to_libpq_url(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield (
            make_url(to_libpq_url(server_url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        admin = await asyncpg.connect(to_libpq_url(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def _stop_embedded(pgdata: Path) -> None:
    import pgserver

    pgserver.get_server(pgdata, cleanup_mode="delete").cleanup()  # type: ignore[attr-defined]


def environment(database_url: str, sandbox: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAZADA_", "ORDERSYNC_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "LAZADA_APP_KEY": APP_KEY,
            "LAZADA_APP_SECRET": APP_SECRET,
            "LAZADA_API_BASE": f"{sandbox}/rest",
            "LAZADA_AUTH_BASE": f"{sandbox}/rest",
            "ORDERSYNC_API_TOKENS": API_TOKEN,
            # Ignored by a build that does not encrypt credentials at rest.
            "ORDERSYNC_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "ORDERSYNC_LOG_LEVEL": "warning",
        }
    )
    return env


async def seed(sandbox: httpx.AsyncClient, api: httpx.AsyncClient, args: argparse.Namespace) -> str:
    seller = await sandbox.post(
        "/_sandbox/sellers", json={"seller_id": SELLER_ID, "country": COUNTRY}
    )
    seller.raise_for_status()
    tokens = seller.json()
    now = datetime.now(UTC)
    started = time.monotonic()
    bulk = await sandbox.post(
        "/_sandbox/orders/bulk",
        json={
            "seller_id": SELLER_ID,
            "count": args.orders,
            "items_per_order": args.items_per_order,
            "created_at_from": (now - timedelta(days=args.days)).isoformat(),
            "created_at_to": (now - timedelta(minutes=1)).isoformat(),
        },
        timeout=600,
    )
    bulk.raise_for_status()
    say(f"seeded {bulk.json()['created']} orders in {time.monotonic() - started:.1f}s")
    account = await api.post(
        "/v1/accounts",
        json={
            "marketplace": "lazada",
            "seller_id": SELLER_ID,
            "country": COUNTRY,
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
        },
    )
    account.raise_for_status()
    account_id: str = account.json()["id"]
    return account_id


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ordersync-bench-backfill-") as tmp:
        workdir = Path(tmp)
        async with database(workdir) as database_url:
            sandbox_url = f"http://{HOST}:{free_port()}"
            api_url = f"http://{HOST}:{free_port()}"
            env = environment(database_url, sandbox_url)
            sandbox_args = [
                "sandbox",
                "--host",
                HOST,
                "--port",
                sandbox_url.rsplit(":", 1)[1],
                "--shoplazza-port",
                str(free_port()),
                "--newegg-port",
                str(free_port()),
                "--app-key",
                APP_KEY,
                "--app-secret",
                APP_SECRET,
                "--webhook-url",
                f"http://{HOST}:9/unused",
            ]
            serve_args = ["serve", "--no-worker", "--host", HOST, "--port", api_url.rsplit(":")[2]]
            sandbox_log, serve_log = workdir / "sandbox.log", workdir / "serve.log"
            with (
                process(sandbox_args, env, sandbox_log) as sandbox_process,
                process(serve_args, env, serve_log) as serve_process,
            ):
                await wait_http(f"{sandbox_url}/_sandbox/config", sandbox_process, sandbox_log)
                await wait_http(f"{api_url}/healthz", serve_process, serve_log)
                headers = {"Authorization": f"Bearer {API_TOKEN}"}
                async with (
                    httpx.AsyncClient(base_url=sandbox_url, timeout=60) as sandbox,
                    httpx.AsyncClient(base_url=api_url, headers=headers, timeout=60) as api,
                ):
                    account_id = await seed(sandbox, api, args)
                    (await sandbox.delete("/_sandbox/calls")).raise_for_status()
                    since = (datetime.now(UTC) - timedelta(days=args.days + 1)).strftime("%Y-%m-%d")
                    say(f"ordersync backfill --account {account_id} --since {since}")
                    started = time.monotonic()
                    backfill = await asyncio.create_subprocess_exec(
                        *COMMAND,
                        "backfill",
                        "--account",
                        account_id,
                        "--since",
                        since,
                        env=env,
                        cwd=REPO_ROOT,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=asyncio.subprocess.STDOUT,
                    )
                    assert backfill.stdout is not None
                    async for line in backfill.stdout:
                        say("  | " + line.decode().rstrip())
                    code = await backfill.wait()
                    process_s = time.monotonic() - started
                    if code != 0:
                        raise RuntimeError(f"ordersync backfill exited with {code}")
                    calls = (await sandbox.get("/_sandbox/calls")).json()
                    (record,) = (await api.get(f"/v1/accounts/{account_id}/sync-runs")).json()
            connection = await asyncpg.connect(to_libpq_url(database_url))
            try:
                orders = await connection.fetchval("SELECT count(*) FROM orders")
                items = await connection.fetchval("SELECT count(*) FROM order_items")
            finally:
                await connection.close()
    run_s = (
        datetime.fromisoformat(record["finished_at"]) - datetime.fromisoformat(record["started_at"])
    ).total_seconds()
    return {
        "orders": orders,
        "items": items,
        "calls": calls,
        "record": record,
        "run_s": run_s,
        "process_s": process_s,
    }


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    calls = result["calls"]
    orders = result["orders"]
    per_order = calls["total"] / orders if orders else float("inf")
    rate, burst = LIMITS["lazada"]
    say("")
    say(f"orders seeded        {args.orders} ({args.items_per_order} item(s) each)")
    say(f"orders stored        {orders} ({result['items']} items)")
    say(f"Lazada calls         {calls['total']}  {calls['by_api']}")
    say(f"calls per order      {per_order:.4f}  (target <= {TARGET_CALLS_PER_ORDER})")
    say(
        f"run record           {result['record']['calls_made']} calls, "
        f"{result['record']['orders_seen']} orders seen"
    )
    say(
        f"wall time            {result['run_s']:.1f}s in the run, "
        f"{result['process_s']:.1f}s for the whole command"
    )
    say(f"orders/s             {orders / result['run_s']:.0f}")
    say(
        f"client pacing        {rate:g} calls/s per seller (burst {burst:g}): "
        f"{calls['total'] / rate:.0f}s of the run at least"
    )
    ok = orders == args.orders and per_order <= TARGET_CALLS_PER_ORDER
    say(f"{'PASS' if ok else 'FAIL'}: every order stored, {per_order:.4f} calls per order")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--items-per-order", type=int, default=1)
    parser.add_argument("--days", type=int, default=30, help="created over the last D days")
    args = parser.parse_args(argv)
    report(args, asyncio.run(run(args)))


if __name__ == "__main__":
    main()
