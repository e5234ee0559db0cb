"""Fixtures for the whole suite: real Postgres, real HTTP, no patching of our own code."""

from tests.fixtures.database import (
    clean_db,
    database_url,
    engine,
    session,
    sessionmaker,
)
from tests.fixtures.services import (
    anonymous,
    api,
    sandbox,
    sandbox_server,
    service_server,
    settings,
    worker,
)

__all__ = [
    "anonymous",
    "api",
    "clean_db",
    "database_url",
    "engine",
    "sandbox",
    "sandbox_server",
    "service_server",
    "session",
    "sessionmaker",
    "settings",
    "worker",
]
