"""Explicit cases for bad input that once reached Postgres (or was silently accepted), and for
the rules that refuse it now. Each request goes over one raw keep-alive connection, which the
next request reuses: a 500 used to close it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.pagination import encode_cursor
from app.kit.server import BackgroundServer
from app.kit.text import StorableText, storable
from app.kit.time import EARLIEST, LATEST, in_utc
from app.orders.statuses import ItemStatus
from tests.fixtures.services import API_TOKEN
from tests.helpers import connect_seller, scalar, signed_headers, trade_push
from tests.hostile.openapi_walk import Walker
from tests.hostile.rawhttp import RawHttp, RawResponse

ANY_ACCOUNT = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def client(service_server: BackgroundServer, clean_db: None) -> AsyncIterator[RawHttp]:
    async with RawHttp(
        service_server.host, service_server.port, headers={"authorization": f"Bearer {API_TOKEN}"}
    ) as raw:
        yield raw
        # Whatever the test sent, the connection it opened first is the one still in use.
        assert raw.connections == 1
        assert (await raw.request("GET", "/healthz")).status == 200


def assert_problem(response: RawResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response
    assert response.content_type == "application/problem+json", response
    problem: dict[str, Any] = response.json()
    assert problem["code"] == code, response
    assert problem["status"] == status
    return problem


class TestTheIssuesCases:
    async def test_an_order_id_with_nul_is_a_422_and_the_connection_survives(
        self, client: RawHttp
    ) -> None:
        response = await client.request("GET", f"/v1/accounts/{ANY_ACCOUNT}/orders/%00")
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["path", "order_id"]
        again = await client.request("GET", f"/v1/accounts/{ANY_ACCOUNT}/orders/1")
        assert_problem(again, 404, "order_not_found")

    @pytest.mark.parametrize(
        "order_id", ["a%00b", "%ED%A0%80", "a" * 65, "a" * 10_000, "-1", "a%20b", "%C3%A9"]
    )
    async def test_what_is_not_an_order_id_is_a_422(self, client: RawHttp, order_id: str) -> None:
        for route in ("", "/cancellations", "/cancel-options"):
            response = await client.request(
                "GET", f"/v1/accounts/{ANY_ACCOUNT}/orders/{order_id}{route}"
            )
            assert_problem(response, 422, "validation_error")

    async def test_an_unknown_item_status_is_a_422(self, client: RawHttp) -> None:
        problem = assert_problem(
            await client.request("GET", "/v1/orders?item_status=bogus"), 422, "validation_error"
        )
        assert problem["errors"][0]["loc"] == ["query", "item_status"]
        for status in ItemStatus:
            response = await client.request("GET", f"/v1/orders?item_status={status}")
            assert response.status == 200, response
            assert response.json() == {"items": [], "next_cursor": None}

    async def test_the_documented_statuses_are_the_ones_accepted(
        self, api: httpx.AsyncClient
    ) -> None:
        document = (await api.get("/openapi.json")).json()
        assert document["components"]["schemas"]["ItemStatus"]["enum"] == list(ItemStatus)


class TestCursors:
    @pytest.mark.parametrize(
        "values",
        [
            ["not a number"],  # was int("not a number"): a 500
            [2**63],  # past bigint: asyncpg refused it, a 500
            [0],
            [True],
            [1, 2],
            [],
        ],
    )
    async def test_a_forged_event_cursor_is_a_400(self, client: RawHttp, values: list[Any]) -> None:
        cursor = encode_cursor(values)
        response = await client.request("GET", f"/v1/webhook-events?cursor={cursor}")
        assert_problem(response, 400, "invalid_cursor")

    @pytest.mark.parametrize(
        "values",
        [
            ["not a date", 1],
            ["9999-12-31T23:59:59-14:00", 1],  # year 10000 in UTC: a 500
            ["0001-01-01T00:00:00+14:00", 1],
            ["2026-01-01T00:00:00+00:00", 2**63],
            ["2026-01-01T00:00:00+00:00", "1"],
            ["2026-01-01T00:00:00+00:00"],
        ],
    )
    async def test_a_forged_order_cursor_is_a_400(self, client: RawHttp, values: list[Any]) -> None:
        cursor = encode_cursor(values)
        response = await client.request("GET", f"/v1/orders?cursor={cursor}")
        assert_problem(response, 400, "invalid_cursor")

    async def test_a_real_cursor_still_pages(self, client: RawHttp) -> None:
        cursor = encode_cursor(["2026-01-01T00:00:00+00:00", 1])
        assert (await client.request("GET", f"/v1/orders?cursor={cursor}")).status == 200
        cursor = encode_cursor([1])
        assert (await client.request("GET", f"/v1/webhook-events?cursor={cursor}")).status == 200


class TestHeaders:
    @pytest.mark.parametrize(
        "value",
        [b"\xed\xa0\x80", b"a b", b"\xc3\xa9", b"a" * 65, b"a" * 10_000, b"a\tb"],
    )
    async def test_an_insane_request_id_is_replaced(self, client: RawHttp, value: bytes) -> None:
        response = await client.request("GET", "/healthz", headers=[(b"x-request-id", value)])
        assert response.status == 200
        given = response.headers["x-request-id"]
        assert len(given) == 32
        assert int(given, 16) >= 0

    async def test_a_sane_request_id_is_kept(self, client: RawHttp) -> None:
        response = await client.request(
            "GET", "/healthz", headers=[(b"x-request-id", b"abc-1.2_3")]
        )
        assert response.headers["x-request-id"] == "abc-1.2_3"

    @pytest.mark.parametrize(
        "key", [b"\xed\xa0\x80", b"k" * 256, b"a\xa0b", b"\xc2\x85", b"a" * 10_000]
    )
    async def test_an_unusable_idempotency_key_is_a_400(self, client: RawHttp, key: bytes) -> None:
        response = await client.request(
            "POST",
            f"/v1/accounts/{ANY_ACCOUNT}/orders/1/cancellations",
            headers=[(b"idempotency-key", key)],
            body=b'{"reason": "other"}',
        )
        assert_problem(response, 400, "idempotency_key_required")

    async def test_the_longest_idempotency_key_is_taken(self, client: RawHttp) -> None:
        response = await client.request(
            "POST",
            f"/v1/accounts/{ANY_ACCOUNT}/orders/1/cancellations",
            headers=[(b"idempotency-key", b"k" * 255)],
            body=b'{"reason": "other"}',
        )
        assert_problem(response, 404, "account_not_found")

    async def test_nul_in_a_header_is_refused_before_the_app(
        self, service_server: BackgroundServer
    ) -> None:
        async with RawHttp(service_server.host, service_server.port) as raw:
            response = await raw.request("GET", "/healthz", headers=[(b"x-request-id", b"a\x00b")])
            assert response.status == 400
            await raw.connect()
            assert (await raw.request("GET", "/healthz")).status == 200


class TestBodies:
    async def test_nul_in_a_cancellation_note_is_a_422_before_anything_is_stored(
        self,
        client: RawHttp,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        account_id = (await connect_seller(api, sandbox))["account"]["id"]
        for field, value in (("note", "a\\u0000b"), ("marketplace_reason_id", "\\ud800")):
            response = await client.request(
                "POST",
                f"/v1/accounts/{account_id}/orders/446156718969495/cancellations",
                headers=[(b"idempotency-key", f"k-{field}".encode())],
                body=f'{{"reason": "other", "{field}": "{value}"}}'.encode(),
            )
            problem = assert_problem(response, 422, "validation_error")
            assert problem["errors"][0]["loc"] == ["body", field]
        assert await scalar(sessionmaker, "SELECT count(*) FROM cancellations") == 0

    async def test_nul_in_an_api_key_name_is_a_422(self, client: RawHttp) -> None:
        response = await client.request(
            "POST", "/v1/api-keys", body=b'{"name": "ci\\u0000", "scopes": ["orders:read"]}'
        )
        assert_problem(response, 422, "validation_error")

    @pytest.mark.parametrize(
        "item_ids", ["1,x", "1,,2", ",".join(["1"] * 201), "1%002", "%ED%A0%80", "1" * 21]
    )
    async def test_bad_item_ids_for_cancel_options_are_a_422(
        self, client: RawHttp, item_ids: str
    ) -> None:
        response = await client.request(
            "GET", f"/v1/accounts/{ANY_ACCOUNT}/orders/1/cancel-options?item_ids={item_ids}"
        )
        assert_problem(response, 422, "validation_error")

    async def test_good_item_ids_for_cancel_options_are_taken(self, client: RawHttp) -> None:
        ids = (
            ",".join(str(n) for n in range(100))
            + "&item_ids="
            + ",".join(str(n) for n in range(100, 200))
        )
        response = await client.request(
            "GET", f"/v1/accounts/{ANY_ACCOUNT}/orders/1/cancel-options?item_ids={ids}"
        )
        assert_problem(response, 404, "account_not_found")

    async def test_a_date_is_stored_in_utc(
        self, api: httpx.AsyncClient, sandbox: httpx.AsyncClient
    ) -> None:
        account_id = (await connect_seller(api, sandbox))["account"]["id"]
        response = await api.put(
            f"/v1/accounts/{account_id}/tokens",
            json={
                "access_token": "a",
                "refresh_token": "r",
                "access_token_expires_at": "2030-01-01T05:00:00+07:00",
                "refresh_token_expires_at": "2030-01-01T05:00:00",
            },
        )
        assert response.status_code == 200, response.text
        account = response.json()
        assert datetime.fromisoformat(account["access_token_expires_at"]) == datetime(
            2029, 12, 31, 22, tzinfo=UTC
        )
        assert datetime.fromisoformat(account["refresh_token_expires_at"]) == datetime(
            2030, 1, 1, 5, tzinfo=UTC
        )


class TestWebhook:
    """A signed push is trusted to come from Lazada, not to be well formed."""

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            (trade_push(order_id="1\x00"), "invalid_push"),
            (trade_push(line_id="2\x00"), "invalid_push"),
            (trade_push(status="pending\x00"), "invalid_push"),
            (trade_push(seller_id="\x00"), "invalid_push"),
            (trade_push().replace(b'"200054169495"', b'"\\u0000"'), "invalid_push"),
            (trade_push().replace(b'"446156718969495"', b'"\\ud800"'), "malformed_json"),
            (trade_push().replace(b'"200549968600"', b'"\\udfff"'), "malformed_json"),
            (trade_push().replace(b'"200054169495"', b'"\xed\xa0\x80"'), "malformed_json"),
            (trade_push(line_id="9" * 10_000), "invalid_push"),
            (trade_push().replace(b"1701074452", str(2**63).encode()), "invalid_push"),
        ],
        ids=[
            "NUL in order id",
            "NUL in line id",
            "NUL in status",
            "NUL in seller id",
            "NUL in a field not read",
            "surrogate in order id",
            "surrogate in seller id",
            "surrogate as raw bytes",
            "10,000-digit line id",
            "status time past bigint",
        ],
    )
    async def test_a_signed_push_with_bad_ids_is_a_400_and_stores_nothing(
        self,
        service_server: BackgroundServer,
        sessionmaker: async_sessionmaker[AsyncSession],
        clean_db: None,
        body: bytes,
        code: str,
    ) -> None:
        headers = [(k.lower().encode(), v.encode()) for k, v in signed_headers(body).items()]
        async with RawHttp(service_server.host, service_server.port) as raw:
            response = await raw.request("POST", "/webhooks/lazada", headers=headers, body=body)
            assert_problem(response, 400, code)
            good = trade_push()
            signed = [(k.lower().encode(), v.encode()) for k, v in signed_headers(good).items()]
            accepted = await raw.request("POST", "/webhooks/lazada", headers=signed, body=good)
            assert accepted.status == 200, accepted
            assert raw.connections == 1
        assert await scalar(sessionmaker, "SELECT count(*) FROM external_events") == 1


class TestRules:
    def test_storable_refuses_nul_and_lone_surrogates_only(self) -> None:
        for bad in ("\x00", "a\x00", "\ud800", "a\udfffb"):
            with pytest.raises(ValueError, match=r"NUL|surrogate"):
                storable(bad)
        for good in ("", "é", "\U0001f600", "\x7f", "\u2028", "\ufeff", "a\tb\n"):
            assert storable(good) == good

    def test_storable_text_checks_the_length_first_and_documents_it(self) -> None:
        class Model(BaseModel):
            value: Annotated[str, StorableText(max_length=3, min_length=1)] | None = None

        assert Model(value="abc").value == "abc"
        with pytest.raises(ValidationError) as too_long:
            Model(value="a\x00" + "c" * 10_000)
        assert [e["type"] for e in too_long.value.errors()] == ["string_too_long"]
        with pytest.raises(ValidationError) as nul:
            Model(value="a\x00")
        assert "NUL" in nul.value.errors()[0]["msg"]
        schema = Model.model_json_schema()["properties"]["value"]["anyOf"][0]
        assert schema == {"type": "string", "maxLength": 3, "minLength": 1}

    def test_moments_are_utc_within_a_day_of_what_datetime_holds(self) -> None:
        assert in_utc(datetime(2030, 1, 1, 5)) == datetime(2030, 1, 1, 5, tzinfo=UTC)
        plus7 = timezone(timedelta(hours=7))
        assert in_utc(datetime(2030, 1, 1, 5, tzinfo=plus7)) == datetime(
            2029, 12, 31, 22, tzinfo=UTC
        )
        assert in_utc(EARLIEST) == EARLIEST
        assert in_utc(LATEST) == LATEST
        for bad in (
            EARLIEST - timedelta(microseconds=1),
            LATEST + timedelta(microseconds=1),
            datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=14))),
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        ):
            with pytest.raises(ValueError, match="between"):
                in_utc(bad)


async def test_every_request_string_documents_its_limit(api: httpx.AsyncClient) -> None:
    """Each string a request can carry says in OpenAPI how long it may be, or is a closed set
    (an enum) or a fixed format (uuid, date-time)."""
    walker = Walker((await api.get("/openapi.json")).json(), {})
    unbounded = []
    for method, path, operation in walker.operations():
        leaves = [
            (f"{p['in']}:{p['name']}", walker.plain(p["schema"]))
            for p in operation.get("parameters", [])
        ]
        for schema in walker.variants(operation):
            leaves += [(f"body:{name}", leaf) for name, leaf in walker.fields(schema)]
        for where, schema in leaves:
            if schema.get("type") == "array":
                schema = walker.plain(schema["items"])
            if schema.get("type") != "string":
                continue
            if not (
                "maxLength" in schema
                or "enum" in schema
                or "const" in schema
                or schema.get("format") in {"uuid", "date-time"}
            ):
                unbounded.append(f"{method.upper()} {path} {where}")
    assert not unbounded
