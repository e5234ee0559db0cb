"""Property tests with text that includes NUL and lone surrogates: the storable-text rule is
exactly what Postgres stores, and the order-read, cancel and account-create routes refuse what
breaks the rule with a 4xx, never a 500, whatever else the text holds."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, find, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import refused_value
from app.kit.server import BackgroundServer
from app.kit.text import storable
from app.orders.schemas import ORDER_ID_PATTERN
from tests.fixtures.services import API_TOKEN
from tests.helpers import connect_seller
from tests.hostile.rawhttp import RawHttp, RawResponse
from tests.hostile.strategies import hostile_texts

# Function-scoped fixtures (the service client, an account) are made once per test, not per
# example: every example only reads, or adds a row no other example looks at.
ONCE_PER_TEST = settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def is_storable(value: str) -> bool:
    try:
        storable(value)
    except ValueError:
        return False
    return True


def on_the_wire(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def as_path_segment(value: str) -> tuple[str, str]:
    """``value`` percent-encoded for a path, and the text the server decodes it to (bytes that
    are not UTF-8 become U+FFFD)."""
    raw = on_the_wire(value)
    return quote(raw, safe=""), raw.decode("utf-8", "replace")


def assert_answer(response: RawResponse, what: object) -> None:
    """Never a 500; every error a problem with a code."""
    assert response.status < 500, f"{what!r}: {response}"
    if response.status >= 400:
        assert response.content_type == "application/problem+json", f"{what!r}: {response}"
        assert response.json()["code"], f"{what!r}: {response}"


def client_for(server: BackgroundServer) -> RawHttp:
    return RawHttp(server.host, server.port, headers={"authorization": f"Bearer {API_TOKEN}"})


@pytest.fixture
async def account_id(api: httpx.AsyncClient, sandbox: httpx.AsyncClient) -> str:
    """A Lazada seller known to the sandbox, connected."""
    return str((await connect_seller(api, sandbox))["account"]["id"])


def test_the_strategy_sends_nul_and_lone_surrogates() -> None:
    assert "\x00" in find(hostile_texts, lambda s: "\x00" in s)
    found = find(hostile_texts, lambda s: any(0xD800 <= ord(c) <= 0xDFFF for c in s))
    assert not is_storable(found)
    assert len(find(hostile_texts, lambda s: len(s) > 500)) > 500


@ONCE_PER_TEST
@given(value=hostile_texts)
async def test_storable_text_is_exactly_what_postgres_stores(
    engine: AsyncEngine, value: str
) -> None:
    """The rule the API applies refuses what Postgres refuses, and nothing else; and what
    Postgres refuses is what the safety net answers with 422."""
    statement = text("SELECT CAST(:v AS text)")
    if is_storable(value):
        async with engine.connect() as connection:
            assert (await connection.execute(statement, {"v": value})).scalar() == value
        return
    with pytest.raises(DBAPIError) as refused:
        async with engine.connect() as connection:
            await connection.execute(statement, {"v": value})
    assert refused_value(refused.value, constraints=False) is not None, repr(refused.value)


@ONCE_PER_TEST
@given(value=hostile_texts)
async def test_order_read_refuses_what_is_not_an_order_id(
    account_id: str, service_server: BackgroundServer, value: str
) -> None:
    segment, decoded = as_path_segment(value)
    async with client_for(service_server) as client:
        response = await client.request("GET", f"/v1/accounts/{account_id}/orders/{segment}")
        assert_answer(response, value)
        if re.fullmatch(ORDER_ID_PATTERN, decoded):
            assert response.json()["code"] == "order_not_found", f"{value!r}: {response}"
        elif decoded and "/" not in decoded:  # no id, or a "/", routes elsewhere
            assert response.json()["code"] == "validation_error", f"{value!r}: {response}"
        follow_up = await client.request("GET", f"/v1/accounts/{account_id}")
        assert follow_up.status == 200


NOT_IN_HEADERS = dict.fromkeys([*range(0x20), 0x7F]) | {0x09: 0x09}
CANCEL_FIELDS = ("note", "marketplace_reason_id", "item_id", "order_id", "idempotency_key")


def _cancel_field_is_valid(field: str, value: str, decoded: str) -> bool | None:
    """Whether our rule accepts ``value`` in ``field``; None where routing decides first."""
    if field == "note":
        return is_storable(value) and len(value) <= 500
    if field == "marketplace_reason_id":
        return is_storable(value) and len(value) <= 64
    if field == "item_id":
        return re.fullmatch(r"[0-9]{1,20}", value, re.ASCII) is not None
    if field == "order_id":
        if not decoded or "/" in decoded:
            return None
        return re.fullmatch(ORDER_ID_PATTERN, decoded) is not None
    return 1 <= len(decoded) <= 255 and decoded.isprintable()


@ONCE_PER_TEST
@given(field=st.sampled_from(CANCEL_FIELDS), value=hostile_texts)
async def test_cancel_refuses_bad_text_in_every_field(
    account_id: str, service_server: BackgroundServer, field: str, value: str
) -> None:
    body: dict[str, Any] = {"reason": "other", "note": "n"}
    order_id, decoded = "446156718969495", value
    key = on_the_wire(f"hyp-{uuid.uuid4()}")
    if field == "order_id":
        order_id, decoded = as_path_segment(value)
    elif field == "item_id":
        body["item_ids"] = [value]
    elif field == "idempotency_key":
        # A header cannot carry control characters but tab (RFC 9110 5.5: the HTTP parser
        # refuses them before our code runs); the server reads the rest as Latin-1, without
        # the spaces around it.
        key = on_the_wire(value.translate(NOT_IN_HEADERS))
        decoded = key.strip(b" \t").decode("latin-1")
    else:
        body[field] = value
    async with client_for(service_server) as client:
        response = await client.request(
            "POST",
            f"/v1/accounts/{account_id}/orders/{order_id}/cancellations",
            headers=[(b"idempotency-key", key)],
            body=json.dumps(body).encode(),
        )
        assert_answer(response, (field, value))
        valid = _cancel_field_is_valid(field, value, decoded)
        refusal = "idempotency_key_required" if field == "idempotency_key" else "validation_error"
        event(f"{field} valid={valid}")
        if valid is not None:
            code = response.json().get("code") if response.status >= 400 else None
            assert (code != refusal) is valid, f"{field}={value!r}: {response}"
        assert (await client.request("GET", f"/v1/accounts/{account_id}")).status == 200


ACCOUNT_FIELDS = ("seller_id", "access_token", "refresh_token", "country", "shop_domain")


@ONCE_PER_TEST
@given(field=st.sampled_from(ACCOUNT_FIELDS), value=hostile_texts)
async def test_account_create_refuses_bad_text_in_every_field(
    api: httpx.AsyncClient, service_server: BackgroundServer, field: str, value: str
) -> None:
    if field == "shop_domain":
        body: dict[str, Any] = {"marketplace": "shoplazza", "access_token": "t", field: value}
        valid = (
            re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", value)
            is not None
            and 3 <= len(value) <= 255
        )
    else:
        body = {
            "marketplace": "lazada",
            "seller_id": uuid.uuid4().hex[:12],
            "country": "sg",
            "access_token": "a",
            "refresh_token": "r",
            field: value,
        }
        valid = {
            "seller_id": re.fullmatch(r"[0-9A-Za-z_.-]{1,64}", value) is not None,
            "country": value in {"sg", "my", "vn", "th", "ph", "id"},
        }.get(field, 1 <= len(value) <= 2048 and all(33 <= ord(c) <= 126 for c in value))
    async with client_for(service_server) as client:
        response = await client.request("POST", "/v1/accounts", body=json.dumps(body).encode())
        assert_answer(response, (field, value))
        if valid:
            assert response.status in (201, 409), f"{field}={value!r}: {response}"
        else:
            assert response.json()["code"] == "validation_error", f"{field}={value!r}: {response}"
        assert (await client.request("GET", "/v1/accounts")).status == 200
