"""Fixtures for the whole suite: real Postgres, real HTTP, no patching of our own code."""

import hypothesis

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
    newegg,
    newegg_server,
    sandbox,
    sandbox_server,
    service_server,
    settings,
    shoplazza,
    shoplazza_server,
    worker,
)

__all__ = [
    "anonymous",
    "api",
    "clean_db",
    "database_url",
    "engine",
    "newegg",
    "newegg_server",
    "sandbox",
    "sandbox_server",
    "service_server",
    "session",
    "sessionmaker",
    "settings",
    "shoplazza",
    "shoplazza_server",
    "worker",
]

# Property tests must not depend on luck or on a local example database: the same examples on
# every machine, every run.
hypothesis.settings.register_profile("ordersync", derandomize=True, database=None, deadline=None)
hypothesis.settings.load_profile("ordersync")
