"""Two real processes of ours on one seller, sharing nothing but Postgres, stay under the
seller's limit together (the sandbox's own per-second counts)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from app.kit.server import BackgroundServer
from tests.fixtures.database import ENCRYPTION_KEY
from tests.fixtures.processes import ROOT, clean_environment
from tests.fixtures.services import APP_KEY, APP_SECRET
from tests.integrations.ratelimit.support import BURST, RATE, assert_within, calls_seen, new_seller

pytestmark = pytest.mark.usefixtures("clean_db")

CALLERS, SECONDS = 4, 3.0


async def test_two_processes_on_one_seller_stay_under_its_limit(
    lazada: httpx.AsyncClient,
    sandbox_server: BackgroundServer,
    database_url: str,
    tmp_path: Path,
) -> None:
    seller = await new_seller(lazada, "300000000900")
    env = clean_environment(
        DATABASE_URL=database_url,
        LAZADA_APP_KEY=APP_KEY,
        LAZADA_APP_SECRET=APP_SECRET,
        LAZADA_API_BASE=f"{sandbox_server.url}/rest",
        ORDERSYNC_ENCRYPTION_KEYS=ENCRYPTION_KEY,
        ORDERSYNC_LAZADA_RATE=str(RATE),
        ORDERSYNC_LAZADA_BURST=str(BURST),
        SELLER_ACCESS_TOKEN=seller.account.access_token or "",
    )
    args = [str(seller.account.id), seller.order_id, str(CALLERS), str(SECONDS)]
    logs = [tmp_path / f"caller-{n}.log" for n in range(2)]
    processes = []
    try:
        for log in logs:
            with log.open("wb") as stderr:
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "tests.integrations.ratelimit.caller",
                        *args,
                        cwd=ROOT,
                        env=env,
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=stderr,
                    )
                )

        async def line(process: asyncio.subprocess.Process, log: Path) -> str:
            assert process.stdout is not None
            got = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
            if not got:
                output = await asyncio.to_thread(log.read_text)
                raise AssertionError(f"exited with {await process.wait()}:\n{output}")
            return got

        for process, log in zip(processes, logs, strict=True):
            assert await line(process, log) == "ready"
        for process in processes:  # both start calling at once
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        made = [
            int((await line(process, log)).removeprefix("calls "))
            for process, log in zip(processes, logs, strict=True)
        ]
        for process in processes:
            assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    seen = (await calls_seen(lazada))["by_seller"][seller.seller_id]
    assert seen["total"] == sum(made)
    assert all(made), made  # both called
    assert_within(seen, rate=RATE, burst=BURST)
    assert seen["total"] >= BURST + RATE
