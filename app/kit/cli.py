"""Helpers for subcommands that live with their domain (``api-keys``, ``secrets``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from app.exceptions import AppError

T = TypeVar("T")


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction against the configured (or embedded) database."""
    # app.cli imports the subcommands that use this: its helpers are taken at run time.
    from app.cli import _database_url, _fail, database_errors
    from app.config import ConfigError, load_database_settings
    from app.db import standalone_transaction
    from app.logging import configure_logging

    try:
        settings = load_database_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    configure_logging(level="warning", json=settings.log_json)
    database_url = _database_url(settings)

    async def run() -> T:
        async with standalone_transaction(database_url, process_name="ordersync-cli") as session:
            return await work(session)

    try:
        with database_errors(database_url):
            return asyncio.run(run())
    except ProgrammingError:
        raise _fail("The database schema is not up to date: run `ordersync migrate`.") from None
    except AppError as exc:
        raise _fail(exc.detail) from None
