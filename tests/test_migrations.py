"""The schema exists only through migrations: they must upgrade, downgrade and match the models."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import to_sqlalchemy_url
from app.migrate import downgrade, upgrade
from app.models import Base
from tests.fixtures.database import _create_database, _drop_database


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"include_object": lambda obj, name, *_: not str(name).startswith("pgqueuer")},
    )
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_downgrade_upgrade_and_match_models(database_url: str) -> None:
    url, name = await _create_database(database_url)
    engine = create_async_engine(to_sqlalchemy_url(url))
    try:
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
        await asyncio.to_thread(downgrade, url, "base")
        async with engine.connect() as connection:
            tables = (
                await connection.execute(
                    text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalar()
            assert tables == 1  # alembic_version only
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as connection:
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
            assert version is not None
            assert (await connection.execute(text("SELECT count(*) FROM pgqueuer"))).scalar() == 0
    finally:
        await engine.dispose()
        await _drop_database(database_url, name)


async def test_upgrade_from_first_release_keeps_lazada_accounts(database_url: str) -> None:
    url, name = await _create_database(database_url)
    engine = create_async_engine(to_sqlalchemy_url(url))
    try:
        await asyncio.to_thread(upgrade, url, "0001")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO marketplace_accounts (id, marketplace, seller_id, country, "
                    "access_token, refresh_token, needs_reauth) VALUES "
                    "(gen_random_uuid(), 'lazada', '42', 'sg', 'a', 'r', false)"
                )
            )
        await asyncio.to_thread(upgrade, url)
        async with engine.begin() as connection:
            row = (
                await connection.execute(
                    text("SELECT seller_id, country, site FROM marketplace_accounts")
                )
            ).one()
            assert tuple(row) == ("42", "sg", None)
            await connection.execute(
                text(
                    "INSERT INTO marketplace_accounts (id, marketplace, seller_id, site, "
                    "api_key, secret_key, needs_reauth) VALUES "
                    "(gen_random_uuid(), 'newegg', 'A006', 'us', 'k', 's', false)"
                )
            )
        await asyncio.to_thread(downgrade, url, "0001")
        async with engine.connect() as connection:
            sellers = (
                (await connection.execute(text("SELECT seller_id FROM marketplace_accounts")))
                .scalars()
                .all()
            )
            assert sellers == ["42"]
    finally:
        await engine.dispose()
        await _drop_database(database_url, name)
