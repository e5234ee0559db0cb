"""The benchmarks' throw-away database: a fresh one on ``DATABASE_URL``'s server (dropped
afterwards), or the embedded Postgres the service starts under a temp ``ORDERSYNC_DATA_DIR``."""

from __future__ import annotations

import contextlib
import signal
import uuid
import warnings
from pathlib import Path
from typing import Any

import asyncpg
import psutil  # type: ignore[import-untyped,unused-ignore]
from sqlalchemy.engine import make_url

from app.db import EMBEDDED_DB_NAME, to_libpq_url
from bench.common import BenchError, say


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


def postgres_pids(pgdata: Path) -> list[int]:
    info = postmaster(pgdata)
    if info is None:
        return []
    with contextlib.suppress(psutil.Error):
        return [info.pid, *(child.pid for child in info.process.children())]
    return []
