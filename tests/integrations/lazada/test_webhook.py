"""POST /webhooks/lazada over real HTTP, against a real Postgres."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.helpers import connect_seller, scalar, signed_headers, trade_push

URL = "/webhooks/lazada"


async def _count(sessionmaker: async_sessionmaker[AsyncSession], sql: str) -> int:
    return int(await scalar(sessionmaker, sql))


def _assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)


class TestSignature:
    async def test_good_push_is_stored_before_the_ack(
        self,
        anonymous: httpx.AsyncClient,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        body = trade_push()
        response = await anonymous.post(URL, content=body, headers=signed_headers(body))
        assert response.status_code == 200
        ack = response.json()
        assert ack["status"] == "accepted"
        assert ack["state"] == "pending"
        stored = await scalar(
            sessionmaker,
            "SELECT payload::text FROM external_events WHERE id = :id",
            id=ack["event_id"],
        )
        assert orjson.loads(stored) == orjson.loads(body)
        assert await _count(sessionmaker, "SELECT count(*) FROM pgqueuer") == 1

    async def test_upper_case_signature_is_accepted(
        self, anonymous: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        body = trade_push()
        headers = signed_headers(body)
        headers["Authorization"] = headers["Authorization"].upper()
        response = await anonymous.post(URL, content=body, headers=headers)
        assert response.status_code == 200

    @pytest.mark.parametrize("case", ["forged", "tampered", "missing"])
    async def test_bad_signature_is_refused_and_not_stored(
        self,
        case: str,
        anonymous: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        body = trade_push()
        headers = signed_headers(body, secret="not-the-secret")
        if case == "tampered":
            headers = signed_headers(body)
            body = body.replace(b"pending", b"canceled")
        if case == "missing":
            del headers["Authorization"]
        response = await anonymous.post(URL, content=body, headers=headers)
        _assert_problem(
            response, 401, "missing_signature" if case == "missing" else "invalid_signature"
        )
        assert await _count(sessionmaker, "SELECT count(*) FROM external_events") == 0


class TestBadInput:
    async def test_oversized_body(
        self, anonymous: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        body = b'{"message_type": 0, "pad": "' + b"x" * (64 * 1024) + b'"}'
        response = await anonymous.post(URL, content=body, headers=signed_headers(body))
        _assert_problem(response, 413, "push_too_large")
        assert await _count(sessionmaker, "SELECT count(*) FROM external_events") == 0

    async def test_oversized_body_without_content_length(
        self, anonymous: httpx.AsyncClient
    ) -> None:
        body = b"x" * (70 * 1024)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 8192):
                yield body[start : start + 8192]

        response = await anonymous.post(URL, content=chunks(), headers=signed_headers(body))
        _assert_problem(response, 413, "push_too_large")

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            (b"{not json", "malformed_json"),
            (b'["a", "list"]', "invalid_push"),
            (b'{"message_type": 0, "data": {"order_status": "pending"}}', "invalid_push"),
        ],
    )
    async def test_malformed_signed_bodies(
        self, body: bytes, code: str, anonymous: httpx.AsyncClient
    ) -> None:
        response = await anonymous.post(URL, content=body, headers=signed_headers(body))
        _assert_problem(response, 400, code)


class TestShortcut:
    """POSTs skip FastAPI's router (``FastRoutes``); what they answer must not change."""

    async def test_refusals_carry_the_request_id_and_instance(
        self, anonymous: httpx.AsyncClient
    ) -> None:
        body = trade_push()
        headers = signed_headers(body, secret="not-the-secret") | {"X-Request-ID": "req-42.a"}
        response = await anonymous.post(URL, content=body, headers=headers)
        _assert_problem(response, 401, "invalid_signature")
        assert response.headers["x-request-id"] == "req-42.a"
        assert response.json()["instance"] == URL
        assert "www-authenticate" not in response.headers

    async def test_acks_carry_a_request_id(self, anonymous: httpx.AsyncClient) -> None:
        body = trade_push()
        response = await anonymous.post(URL, content=body, headers=signed_headers(body))
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert len(response.headers["x-request-id"]) == 32

    async def test_other_methods_still_get_the_routers_answer(
        self, anonymous: httpx.AsyncClient
    ) -> None:
        _assert_problem(await anonymous.get(URL), 405, "method_not_allowed")

    async def test_the_webhook_stays_documented(self, anonymous: httpx.AsyncClient) -> None:
        schema = (await anonymous.get("/openapi.json")).json()
        operation = schema["paths"][URL]["post"]
        assert set(operation["responses"]) >= {"200", "400", "401", "413"}


class TestRouting:
    async def test_duplicate_push_gets_200_and_no_new_work(
        self,
        anonymous: httpx.AsyncClient,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        body = trade_push()
        first = await anonymous.post(URL, content=body, headers=signed_headers(body))
        second = await anonymous.post(URL, content=body, headers=signed_headers(body))
        assert first.json()["status"] == "accepted"
        assert second.status_code == 200
        assert second.json() == {"status": "duplicate", "event_id": None, "state": None}
        assert await _count(sessionmaker, "SELECT count(*) FROM external_events") == 1
        assert await _count(sessionmaker, "SELECT count(*) FROM pgqueuer") == 1

    async def test_five_line_pushes_queue_one_sync(
        self,
        anonymous: httpx.AsyncClient,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        for line in range(5):
            body = trade_push(line_id=f"10{line}")
            assert (await anonymous.post(URL, content=body, headers=signed_headers(body))).json()[
                "status"
            ] == "accepted"
        assert await _count(sessionmaker, "SELECT count(*) FROM external_events") == 5
        assert await _count(sessionmaker, "SELECT count(*) FROM pgqueuer") == 1

    async def test_unknown_seller_is_stored_as_unroutable_and_visible(
        self,
        anonymous: httpx.AsyncClient,
        api: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        body = trade_push(seller_id="999")
        response = await anonymous.post(URL, content=body, headers=signed_headers(body))
        assert response.status_code == 200
        assert response.json()["state"] == "unroutable"
        assert await _count(sessionmaker, "SELECT count(*) FROM pgqueuer") == 0
        listed = (await api.get("/v1/webhook-events", params={"state": "unroutable"})).json()
        assert [e["seller_id"] for e in listed["items"]] == ["999"]

    async def test_other_message_types_are_stored_and_acked(
        self,
        anonymous: httpx.AsyncClient,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        body = orjson.dumps(
            {
                "seller_id": "200549968600",
                "message_type": 3,
                "data": {"item_id": 1},
                "timestamp": 1,
                "site": "lazada_vn",
            }
        )
        response = await anonymous.post(URL, content=body, headers=signed_headers(body))
        assert response.json()["state"] == "ignored"
        assert await _count(sessionmaker, "SELECT count(*) FROM pgqueuer") == 0

    async def test_token_alert_queues_a_refresh(
        self,
        anonymous: httpx.AsyncClient,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        body = orjson.dumps(
            {
                "seller_id": "null",
                "message_type": 8,
                "data": {"app_key": "123456", "auth_expiry_time": 1, "seller_id": "200549968600"},
                "timestamp": 1,
                "site": "lazada_vn",
            }
        )
        response = await anonymous.post(URL, content=body, headers=signed_headers(body))
        assert response.json()["state"] == "pending"
        entrypoint = await scalar(sessionmaker, "SELECT entrypoint FROM pgqueuer")
        assert entrypoint == "lazada.token.refresh"


def _batched_pushes(metrics_text: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith("ordersync_intake_batch_pushes_sum "):
            return float(line.split()[1])
    raise AssertionError("ordersync_intake_batch_pushes_sum is missing from /metrics")


class TestGroupCommit:
    async def test_a_burst_is_stored_whole_with_one_sync_for_the_account(
        self,
        anonymous: httpx.AsyncClient,
        api: httpx.AsyncClient,
        sandbox: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        await connect_seller(api, sandbox)
        bodies = [
            trade_push(order_id=f"70{order}", line_id=f"70{order}0{line}")
            for order in range(5)
            for line in range(5)
        ]
        bodies += bodies[:5]  # Lazada retries: the same pushes again, at the same moment
        before = _batched_pushes((await anonymous.get("/metrics")).text)
        answers = await asyncio.gather(
            *(anonymous.post(URL, content=body, headers=signed_headers(body)) for body in bodies)
        )
        assert {answer.status_code for answer in answers} == {200}
        statuses = [answer.json()["status"] for answer in answers]
        assert statuses.count("accepted") == 25
        assert statuses.count("duplicate") == 5
        event_ids = [answer.json()["event_id"] for answer in answers if answer.json()["event_id"]]
        assert len(set(event_ids)) == 25
        assert await _count(sessionmaker, "SELECT count(*) FROM external_events") == 25
        # However many batches the 30 were split into, one sync waits for the account.
        assert await _count(sessionmaker, "SELECT count(*) FROM pgqueuer") == 1
        # Every push went through the group commit, however the 30 were split into batches.
        after = _batched_pushes((await anonymous.get("/metrics")).text)
        assert after - before == 30
