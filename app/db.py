"""Engine, sessions and the embedded Postgres used when ``DATABASE_URL`` is unset.

Transactions belong to boundaries: ``get_db_session`` commits or rolls back per request, the
worker's job wrapper does the same per job, and services only ``flush``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import orjson
import structlog
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import DatabaseSettings

log = structlog.get_logger(__name__)

EMBEDDED_DB_NAME = "ordersync"


def to_sqlalchemy_url(url: str) -> str:
    """``postgresql+asyncpg://`` form of any Postgres URL we accept."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def to_libpq_url(url: str) -> str:
    """Plain ``postgresql://`` form, as asyncpg (and so PgQueuer) wants it."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def start_embedded_postgres(data_dir: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or join) a pgserver Postgres under ``data_dir`` and return its URL.

    pgserver ships a real Postgres 16 inside its wheel, so a fresh machine needs no server.
    Several of our processes may share one data directory; pgserver reference-counts them.
    """
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR on servers; it is harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only the embedded path pays for it

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    log.info("db.embedded.starting", pgdata=str(pgdata))
    server = pgserver.get_server(pgdata, cleanup_mode=cleanup)  # type: ignore[attr-defined]
    existing = server.psql(f"SELECT 'found' FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}';")
    if "found" not in existing:
        server.psql(f"CREATE DATABASE {EMBEDDED_DB_NAME};")
    uri = make_url(server.get_uri()).set(database=EMBEDDED_DB_NAME)
    return uri.render_as_string(hide_password=False)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the embedded Postgres of ``data_dir`` now (its own exit hook would run too late when
    the directory is about to be deleted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    server = pgserver.get_server((data_dir / "pgdata").resolve())  # type: ignore[attr-defined]
    server.cleanup()


def resolve_database_url(settings: DatabaseSettings) -> str:
    """The configured URL, or an embedded Postgres's when none is configured."""
    if settings.database_url:
        return to_sqlalchemy_url(settings.database_url)
    return to_sqlalchemy_url(start_embedded_postgres(settings.data_dir))


def create_engine(url: str, *, process_name: str, pool_size: int = 20) -> AsyncEngine:
    connect_args: dict[str, Any] = {"server_settings": {"application_name": process_name}}
    # No pool_pre_ping: it costs a round trip on every checkout of the webhook's hot path. A
    # connection broken by a database restart fails its first statement instead; the webhook
    # then spools the push and the worker retries the job, and the pool discards it.
    return create_async_engine(
        to_sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
        connect_args=connect_args,
    )


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
