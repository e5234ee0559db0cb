"""The safety net under validation: a value the database refuses answers 422 ``invalid_value``
(logged as a bug, without the value), never a 500, and leaves both connections usable: the
client's keep-alive connection and the database connection it happened on.

Validation refuses every such value the routes take (``test_openapi_walk``), so the net is
tested with routes of its own, added to a real app: each sends Postgres a value it refuses,
through SQLAlchemy or straight through asyncpg, as our repositories do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from fastapi import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import SessionDep, driver_connection
from app.fast_routes import OrderSyncApp, RawRequest
from app.kit.server import BackgroundServer
from app.main import create_app
from tests.fixtures.services import API_TOKEN
from tests.helpers import scalar
from tests.hostile.rawhttp import RawHttp

SECRET = "do-not-log-me-7f3a"
MINUS_14 = timezone(-timedelta(hours=14))


@pytest.fixture
async def net_server(
    settings: Settings, database_url: str, clean_db: None
) -> AsyncIterator[BackgroundServer]:
    app = create_app(settings, database_url)

    async def run(session: AsyncSession, sql: str, value: Any) -> dict[str, Any]:
        return {"value": str((await session.execute(text(sql), {"v": value})).scalar())}

    @app.get("/_test/text")
    async def as_text(session: SessionDep, value: str) -> dict[str, Any]:
        return await run(session, "SELECT CAST(:v AS text)", value)

    @app.post("/_test/text")
    async def as_text_from_json(request: Request, session: SessionDep) -> dict[str, Any]:
        # json.loads, unlike our routes' parser, lets a lone surrogate through.
        return await run(session, "SELECT CAST(:v AS text)", json.loads(await request.body())["v"])

    @app.get("/_test/bigint")
    async def as_bigint(session: SessionDep, value: str) -> dict[str, Any]:
        return await run(session, "SELECT CAST(:v AS bigint)", int(value))

    @app.get("/_test/integer")
    async def as_integer(session: SessionDep, value: str) -> dict[str, Any]:
        return await run(session, "SELECT CAST(CAST(:v AS text) AS integer)", value)

    @app.get("/_test/date")
    async def as_date(session: SessionDep, value: str) -> dict[str, Any]:
        return await run(session, "SELECT CAST(CAST(:v AS text) AS date)", value)

    @app.get("/_test/moment")
    async def as_moment(session: SessionDep) -> dict[str, Any]:
        moment = datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_14)  # year 10000 in UTC
        return await run(session, "SELECT CAST(:v AS timestamptz)", moment)

    @app.get("/_test/api-key-name")
    async def api_key_name(session: SessionDep, value: str) -> dict[str, Any]:
        return await run(
            session,
            "INSERT INTO api_keys (id, name, prefix, key_hash, scopes) "
            "VALUES (gen_random_uuid(), :v, 'osk_', md5(random()::text), '{}') RETURNING name",
            value,
        )

    @app.get("/_test/driver")
    async def through_asyncpg(session: SessionDep, value: str) -> dict[str, Any]:
        driver = await driver_connection(session)
        return {"value": await driver.fetchval("SELECT $1::text", value)}

    @app.get("/_test/missing-table")
    async def missing_table(session: SessionDep) -> dict[str, Any]:
        return await run(session, "SELECT count(*) FROM no_such_table WHERE :v", True)

    async def fast(request: RawRequest) -> tuple[int, bytes]:
        value = orjson.loads(await request.body(1024, lambda: ValueError()))["v"]
        async with request.app.state.sessionmaker() as session, session.begin():
            await session.execute(text("SELECT CAST(:v AS text)"), {"v": value})
        return 200, b"{}"

    assert isinstance(app, OrderSyncApp)
    app.fast_routes[("POST", "/_test/fast")] = fast
    server = BackgroundServer(app)
    await server.start()
    yield server
    await server.stop()


CASES = [
    # (what, method, target, body): each makes Postgres or asyncpg refuse a value.
    ("NUL (server: 22021)", "GET", f"/_test/text?value={SECRET}%00", None),
    ("lone surrogate (asyncpg cannot encode it)", "POST", "/_test/text", b'{"v": "\\ud800"}'),
    ("2**63 into bigint (asyncpg: out of int64)", "GET", f"/_test/bigint?value={2**63}", None),
    ("integer out of range (22003)", "GET", "/_test/integer?value=99999999999", None),
    ("not an integer (22P02)", "GET", f"/_test/integer?value={SECRET}", None),
    ("date field out of range (22008)", "GET", "/_test/date?value=2020-13-45", None),
    ("year 10000 in UTC (asyncpg: overflow)", "GET", "/_test/moment", None),
    (
        "101 characters into varchar(100) (22001)",
        "GET",
        "/_test/api-key-name?value=" + "k" * 101,
        None,
    ),
    ("NUL straight through asyncpg", "GET", f"/_test/driver?value={SECRET}%00", None),
    ("NUL on the webhook's fast path", "POST", "/_test/fast", b'{"v": "a\\u0000"}'),
]


@pytest.mark.parametrize(("what", "method", "target", "body"), CASES, ids=[c[0] for c in CASES])
async def test_a_value_the_database_refuses_is_a_422(
    net_server: BackgroundServer,
    sessionmaker: async_sessionmaker[AsyncSession],
    capfd: pytest.CaptureFixture[str],
    what: str,
    method: str,
    target: str,
    body: bytes | None,
) -> None:
    async with RawHttp(net_server.host, net_server.port) as client:
        response = await client.request(method, target, body=body)
        assert response.status == 422, f"{what}: {response}"
        assert response.content_type == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "invalid_value"
        assert problem["status"] == 422
        assert SECRET not in response.body.decode()
        # The same keep-alive connection still works, and so does the database: no
        # connection was left in the failed transaction (checked below).
        for _ in range(3):
            again = await client.request("GET", "/_test/text?value=fine")
            assert again.status == 200, again
            assert again.json() == {"value": "fine"}
        assert client.connections == 1
    logged = "".join(capfd.readouterr())
    assert "http.invalid_value_reached_database" in logged
    assert "warning" in logged
    assert SECRET not in logged
    stuck = await scalar(
        sessionmaker,
        "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'",
    )
    assert stuck == 0


async def test_a_database_error_that_is_not_about_a_value_is_still_a_500(
    net_server: BackgroundServer,
) -> None:
    async with RawHttp(net_server.host, net_server.port) as client:
        response = await client.request("GET", "/_test/missing-table")
    assert response.status == 500
    assert response.json()["code"] == "internal_error"


async def test_the_api_routes_never_need_the_net(
    net_server: BackgroundServer, capfd: pytest.CaptureFixture[str]
) -> None:
    """The values above, sent to real routes, are refused by validation first."""
    async with RawHttp(
        net_server.host, net_server.port, headers={"authorization": f"Bearer {API_TOKEN}"}
    ) as client:
        for target in (
            "/v1/accounts/00000000-0000-0000-0000-000000000000/orders/%00",
            "/v1/orders?item_status=%00",
            f"/v1/webhook-events/{2**63}",
            "/v1/orders?updated_since=9999-12-31T23:59:59-14:00",
        ):
            response = await client.request("GET", target)
            assert response.status == 422, f"{target}: {response}"
            assert response.json()["code"] == "validation_error"
    assert "http.invalid_value_reached_database" not in "".join(capfd.readouterr())
