"""Engine, sessions and the embedded Postgres used when ``DATABASE_URL`` is unset.

Transactions belong to boundaries: ``get_db_session`` commits or rolls back per request, the
worker's job wrapper does the same per job, and services only ``flush``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
import structlog
from asyncpg.exceptions import _base as asyncpg_base
from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import DatabaseSettings
from app.kit.backoff import backoff_delay

log = structlog.get_logger(__name__)

EMBEDDED_DB_NAME = "ordersync"

# How long to wait for a new connection, and for any one statement, before the database counts
# as unavailable. Without them a Postgres that accepts TCP but never answers (a hung server, a
# half-dead network path) would hold every caller forever: asyncpg's own defaults are 60 s to
# connect and no limit on statements.
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 30.0

# What "the database is not there" looks like from here: refused or reset connections, a server
# shutting down or starting up, and deadlines. The asyncpg classes are for statements sent
# straight to asyncpg (``driver_connection``, PgQueuer), which SQLAlchemy does not wrap.
_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)


# SQLSTATE classes that say the server cannot do anything right now, whatever was asked:
# connection exceptions (08), insufficient resources (53: too many connections, disk full),
# operator intervention (57: shutting down, starting up, in recovery, cancelled) and system
# errors (58: I/O). Everything else is about the statement.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57", "58")


def database_unavailable(exc: BaseException) -> bool:
    """Is ``exc`` the database being away (down, restarting, in recovery, unreachable,
    hanging), rather than a statement it refused? The one rule the intake, the worker and the
    supervisor share: the first kind is waited out, the second is a bug or a bad value.

    By class where the driver raised its own (connection refused, timeouts), and by SQLSTATE
    where the server answered: SQLAlchemy's asyncpg adapter hands some server errors on in a
    generic class, such as ``57P03`` ("the database system is not yet accepting connections")
    while Postgres replays its WAL after a crash."""
    if isinstance(exc, _UNAVAILABLE):
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, _UNAVAILABLE):
        return True
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


# What Postgres refuses as a value: SQLSTATE class 22, "data exception" (NUL or untranslatable
# characters, a string too long for its column, a number or a date out of range, text that is
# not a number...), which asyncpg raises as subclasses of its DataError, and asyncpg's own
# refusal to encode an argument (a lone surrogate, an int past 64 bits, a datetime that
# overflows in UTC), a different class also named DataError.
DATA_ERRORS = (asyncpg.exceptions.DataError, asyncpg_base.DataError)


def refused_value(exc: BaseException, *, constraints: bool = True) -> BaseException | None:
    """The error behind ``exc`` (itself, or what SQLAlchemy wraps) by which the statement's
    values were refused: a data exception (class 22, or asyncpg refusing to encode one), and,
    with ``constraints``, an integrity violation (class 23: the value conflicts with what is
    stored). None for any other error: then the database or our code is at fault, not the
    data, and retrying later is the answer."""
    current: BaseException | None = exc
    for _ in range(5):  # DBAPIError -> adapter error -> asyncpg error, with room to spare
        if current is None or isinstance(current, DATA_ERRORS):
            return current
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and (
            sqlstate.startswith("22") or (constraints and sqlstate.startswith("23"))
        ):
            return current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def value_refused(exc: BaseException) -> bool:
    return refused_value(exc) is not None


async def database_answers(
    pool: AsyncEngine | async_sessionmaker[AsyncSession], *, within: float = 2.0
) -> bool:
    """One ``SELECT 1`` on a connection from ``pool`` within ``within`` seconds."""
    try:
        async with asyncio.timeout(within):
            if isinstance(pool, AsyncEngine):
                async with pool.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            else:
                async with pool() as session:
                    await session.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def wait_for_database(
    pool: AsyncEngine | async_sessionmaker[AsyncSession],
    *,
    stopping: asyncio.Event,
    base: float = 0.25,
    cap: float = 5.0,
) -> bool:
    """Wait until the database answers (True) or ``stopping`` is set (False), probing with a
    jittered backoff so that many waiters do not hammer a server that is starting up."""
    attempt = 0
    while not stopping.is_set():
        if await database_answers(pool):
            return True
        attempt += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                stopping.wait(), timeout=backoff_delay(attempt, base=base, cap=cap)
            )
    return False


def to_sqlalchemy_url(url: str) -> str:
    """``postgresql+asyncpg://`` form of any Postgres URL we accept."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def to_libpq_url(url: str) -> str:
    """Plain ``postgresql://`` form, as asyncpg (and so PgQueuer) wants it."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class EmbeddedPostgresError(Exception):
    """The embedded Postgres is not installed or did not start; the message says what to do."""


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns about a missing XDG_RUNTIME_DIR on servers; harmless here.
            warnings.simplefilter("ignore")
            import pgserver  # imported lazily: only the embedded path pays for it
    except ImportError:
        raise EmbeddedPostgresError(
            "DATABASE_URL is not set and the embedded Postgres is not installed: set "
            "DATABASE_URL to your Postgres, or install it with pip install 'ordersync[embedded]' "
            "(python3 dev.py does)."
        ) from None
    return pgserver


def _alive(pid: int) -> bool:
    import psutil  # pgserver's dependency

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _handles(pgdata: Path) -> Any:
    from pgserver.utils import DiskList

    return DiskList(pgdata / ".handle_pids.json")


def drop_dead_handles(pgdata: Path) -> list[int]:
    """Forget the processes that hold the embedded Postgres but are gone.

    pgserver stops Postgres when the last process holding it exits, going by the PIDs in
    ``pgdata/.handle_pids.json``. A process killed before its exit hook ran (``kill -9``, the
    OOM killer) stays listed for ever, so Postgres was never stopped again. A PID reused since
    by another process is still taken for a holder: Postgres then outlives us, as before.
    """
    from pgserver.postgres_server import PostgresServer

    handles = _handles(pgdata)
    with PostgresServer._lock:  # the lock pgserver holds while it reads and writes the list
        pids: list[int] = handles.get()
        dead = [pid for pid in pids if not _alive(pid)]
        if dead:
            handles.put([pid for pid in pids if pid not in dead])
    return dead


def start_embedded_postgres(data_dir: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or join) a pgserver Postgres under ``data_dir`` and return its URL.

    pgserver ships a real Postgres 16 inside its wheel, so a fresh machine needs no server.
    Several of our processes may share one data directory; pgserver reference-counts them.
    Its initdb and pg_ctl output is logged below warnings (app/logging.py): it shows only when
    a command fails.
    """
    pgserver = _pgserver()
    pgdata = (data_dir / "pgdata").resolve()
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddedPostgresError(
            f"Cannot create {pgdata} for the embedded Postgres ({exc.strerror}): set "
            "ORDERSYNC_DATA_DIR to a writable directory."
        ) from None
    fresh = not (pgdata / "PG_VERSION").exists()
    dead = drop_dead_handles(pgdata)
    if dead:
        log.warning("db.embedded.dead_holders_dropped", pids=dead)
    started = time.monotonic()
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=cleanup)
        query = f"SELECT 'found' FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}';"
        if "found" not in server.psql(query):
            server.psql(f"CREATE DATABASE {EMBEDDED_DB_NAME};")
        uri = make_url(server.get_uri()).set(database=EMBEDDED_DB_NAME)
    except Exception as exc:
        raise EmbeddedPostgresError(
            f"The embedded Postgres in {pgdata} did not start ({type(exc).__name__}: {exc}); "
            f"its log is {pgdata / 'log'}."
        ) from None
    if cleanup == "stop":
        atexit.register(_stop_at_exit, server, pgdata)
    log.info(
        "db.embedded.ready",
        pgdata=str(pgdata),
        initialised=fresh,
        seconds=round(time.monotonic() - started, 1),
    )
    return uri.render_as_string(hide_password=False)


def _stop_at_exit(server: Any, pgdata: Path) -> None:
    """pgserver's own exit hook, run first so that what it did can be told in one line."""
    server.cleanup()
    holders = [pid for pid in _handles(pgdata).get() if _alive(pid)]
    if holders:
        log.info("db.embedded.left_running", pgdata=str(pgdata), held_by=holders)
    else:
        log.info("db.embedded.stopped", pgdata=str(pgdata))


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the embedded Postgres of ``data_dir`` now (its own exit hook would run too late when
    the directory is about to be deleted)."""
    server = _pgserver().get_server((data_dir / "pgdata").resolve())
    server.cleanup()


def resolve_database_url(settings: DatabaseSettings) -> str:
    """The configured URL, or an embedded Postgres's when none is configured."""
    if settings.database_url:
        return to_sqlalchemy_url(settings.database_url)
    return to_sqlalchemy_url(start_embedded_postgres(settings.data_dir))


def asyncpg_connect_args(process_name: str) -> dict[str, Any]:
    """What every connection of ours is opened with, by SQLAlchemy or by asyncpg directly."""
    return {
        "server_settings": {"application_name": process_name},
        "timeout": CONNECT_TIMEOUT,
        "command_timeout": COMMAND_TIMEOUT,
    }


def create_engine(url: str, *, process_name: str, pool_size: int = 20) -> AsyncEngine:
    engine = create_async_engine(
        to_sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=COMMAND_TIMEOUT,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
        connect_args=asyncpg_connect_args(process_name),
    )
    event.listen(engine.sync_engine, "checkout", _refuse_unusable)
    return engine


def _refuse_unusable(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Never hand out a pooled connection whose server has gone, or that sits inside a
    transaction nobody knows of.

    After a Postgres restart every idle pooled connection is dead, and the first statement on
    each would fail (an API request answering 503, a sync retried). asyncpg already knows: the
    server closed the socket, so ``is_closed()`` is true, at no cost. ``pool_pre_ping`` would find
    the same, for a round trip on every checkout of the webhook's hot path.

    A statement cancelled by a timeout (a health probe while Postgres is slow to come back) can
    leave its connection in a transaction: the ``BEGIN`` reached the server, but SQLAlchemy never
    saw it succeed, so it neither tracks nor rolls it back, and returns the connection to the pool
    as clean. Whatever the next user sent straight to asyncpg (the intake's single-statement
    batches) would then run inside that stray transaction, appear to succeed, and be rolled back
    when the connection closes. ``is_in_transaction()`` is the server's own word on it, from the
    last message it sent.

    Raising ``DisconnectionError`` makes the pool drop the connection and open a fresh one.
    """
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is None:
        return
    if driver.is_closed():
        raise DisconnectionError("pooled connection closed by the server")
    if driver.is_in_transaction():
        log.warning("db.pool.stray_transaction")
        raise DisconnectionError("pooled connection inside a transaction nobody tracks")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function": the commit happens before the response is sent, so a 2xx means committed.
SessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


@contextlib.asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits on success and rolls back on error."""
    async with sessionmaker() as session, session.begin():
        yield session


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's transaction.

    For the few statements on the webhook's hot path (and PgQueuer's, which speaks asyncpg):
    SQLAlchemy's execution path costs about 0.3 ms per statement, more than the statement.
    What runs here is part of the session's transaction: SQLAlchemy's adapter sends BEGIN only
    with the first statement it runs itself, so if none has run yet, one does here (otherwise
    each statement sent straight to asyncpg would commit on its own).
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    return driver


@contextlib.asynccontextmanager
async def autocommit_driver(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's asyncpg connection outside any transaction: each statement sent
    to it commits on its own, whatever transaction the caller holds elsewhere.

    After an error other than a refused value (which leaves the connection as clean as it was),
    or a cancellation mid-statement, the pool never hands this connection out again.
    """
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, asyncpg.Connection)
        try:
            yield driver
        except BaseException as exc:
            if not value_refused(exc):
                await connection.invalidate()
            raise


async def commit_without_flush_wait(session: AsyncSession) -> None:
    """Let this transaction's commit return before its WAL is on disk (``synchronous_commit``
    off for this transaction only; Postgres flushes it within a fraction of a second).

    Only for work that is safe to lose in a crash of Postgres because it will be redone, such
    as storing what a sync fetched. The gain is for everyone else: commits that wait for the
    disk take turns, so the worker's flushes would queue in front of the webhook's, whose
    acknowledgements must wait for theirs.
    """
    await session.execute(text("SET LOCAL synchronous_commit = off"))


@contextlib.asynccontextmanager
async def standalone_transaction(
    database_url: str, *, process_name: str
) -> AsyncIterator[AsyncSession]:
    """For one-off commands: one connection, one transaction (committed on success), then the
    engine is gone."""
    engine = create_engine(database_url, process_name=process_name, pool_size=1)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            yield session
    finally:
        await engine.dispose()
