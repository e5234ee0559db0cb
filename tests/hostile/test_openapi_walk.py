"""Walk the service's own OpenAPI document and send every route's every parameter and body field
the values that used to reach Postgres and fail there as 500s: NUL, lone surrogates, 10,000
characters, integers past 64 bits, dates Postgres or Python cannot convert.

Schemathesis generates values from the schema, and where the schema allows any string it
sends NUL or a lone surrogate only by chance (it never found ``GET .../orders/%00``). This walk
sends exactly those values, over one keep-alive connection, and checks that validation refuses
each: not a 500, not the database's refusal (``invalid_value``, the safety net), and not at the
price of the connection.
"""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.server import BackgroundServer
from tests.fixtures.services import API_TOKEN
from tests.helpers import connect_seller, scalar
from tests.hostile.openapi_walk import Request, Walker
from tests.hostile.rawhttp import ConnectionClosed, RawHttp, RawResponse

# The codes validation refuses with: FastAPI's, and the few checks routes make themselves.
REFUSALS = {"validation_error", "invalid_cursor", "idempotency_key_required"}
LOCATIONS = {"path", "query", "header", "body"}


def problem_in(response: RawResponse) -> str | None:
    """What is wrong with ``response`` as a refusal of a bad value, or None."""
    if not 400 <= response.status < 500 or response.content_type != "application/problem+json":
        return str(response)
    body = response.json()
    if body.get("status") != response.status or body.get("code") not in REFUSALS:
        return str(response)
    return None


async def test_every_parameter_refuses_hostile_values(
    api: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    service_server: BackgroundServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    account_id = (await connect_seller(api, sandbox))["account"]["id"]
    document = (await api.get("/openapi.json")).json()
    # The API-key routes: the Lazada webhook authenticates by a signature of its body, and
    # test_regressions.TestWebhook sends it hostile bodies, signed.
    walker = Walker(
        document,
        {"account_id": lambda: account_id, "Idempotency-Key": lambda: f"walk-{uuid.uuid4()}"},
        security="ApiKey",
    )
    targets = walker.targets()
    found = Counter(target.location for target in targets)
    # Fails loudly rather than test nothing when the document or the walker changes shape.
    assert set(found) == LOCATIONS, f"the walk found {dict(found)} in {len(targets)} targets"
    assert len(targets) >= 40, [str(t) for t in targets]
    failures: list[str] = []

    async with RawHttp(
        service_server.host, service_server.port, headers={"authorization": f"Bearer {API_TOKEN}"}
    ) as client:

        async def send(request: Request, what: str) -> RawResponse | None:
            try:
                return await client.request(
                    request.method, request.target, headers=request.headers, body=request.body
                )
            except ConnectionClosed:
                failures.append(f"{what}: the connection was closed")
                await client.connect()
                return None

        # Every operation's baseline is valid, so a refusal below is the hostile value's doing.
        for method, path, operation in walker.operations():
            for variant in range(max(len(walker.variants(operation)), 1)):
                what = f"baseline {method.upper()} {path} #{variant}"
                response = await send(walker.request(method, path, variant=variant), what)
                if response is not None and (
                    response.status >= 500
                    or (response.status >= 400 and response.json()["code"] == "validation_error")
                ):
                    failures.append(f"{what}: {response}")
        assert not failures, "\n".join(failures)

        sent = unparsable = 0
        for target in targets:
            for hostile in target.hostiles():
                what = f"{target} = {hostile.label}"
                request = walker.request(target.method, target.path, hostile=(target, hostile))
                response = await send(request, what)
                sent += 1
                if response is None:
                    continue
                if target.location == "header" and b"\x00" in hostile.raw:
                    # HTTP forbids NUL in a header (RFC 9110 5.5): uvicorn's parser answers 400
                    # and closes the connection before any of our code runs.
                    if response.status != 400:
                        failures.append(f"{what}: {response}")
                    unparsable += 1
                    await client.connect()
                elif (problem := problem_in(response)) is not None:
                    failures.append(f"{what}: {problem}")
                after = await send(
                    walker.request("get", "/v1/accounts/{account_id}"), f"after {what}"
                )
                if after is not None and after.status != 200:
                    failures.append(f"after {what}: {after}")
        # No answer of ours closed the connection: only the HTTP parser's refusals did.
        if client.connections != 1 + unparsable + len(failures):
            failures.append(f"{client.connections} connections for {unparsable} refusals")
    assert not failures, f"{len(failures)} of {sent} hostile requests:\n" + "\n".join(failures)
    assert sent >= len(targets) * 4

    stuck = await scalar(
        sessionmaker,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = 'ordersync-api' AND state LIKE 'idle in transaction%'",
    )
    assert stuck == 0
