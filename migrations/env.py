"""Alembic environment: async engine, URL from the caller or from settings."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

# Migration scripts import ``migrations.helpers``: make the project root importable from any
# working directory (the package installs ``app`` only).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import load_database_settings
from app.db import resolve_database_url, to_sqlalchemy_url
from app.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # PgQueuer's tables come from its frozen SQL script, not from our models.
    table = getattr(obj, "table", obj)
    return not str(getattr(table, "name", name) or "").startswith("pgqueuer")


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return to_sqlalchemy_url(str(url))
    return resolve_database_url(load_database_settings())


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=target_metadata, include_object=_include_object
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
