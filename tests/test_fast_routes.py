"""``OrderSyncApp``: routes answered as plain ASGI, before FastAPI's per-request machinery, must
answer as the rest of the app would (request id, problem+json, the 500)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import Message

from app.exception_handlers import add_exception_handlers
from app.exceptions import AppError
from app.fast_routes import OrderSyncApp, RawRequest


class Refused(AppError):
    status_code = 409
    code = "refused_here"
    title = "Refused"


async def _echo(request: RawRequest) -> tuple[int, bytes]:
    body = await request.body(16, lambda: Refused("too big"))
    if body == b"refuse":
        raise Refused("no", headers={"Retry-After": "3"}, extra={"why": "asked to"})
    if body == b"crash":
        raise RuntimeError("a bug")
    return 200, b'{"echo": "' + body + b'"}'


def _app() -> OrderSyncApp:
    app = OrderSyncApp()
    add_exception_handlers(app)

    @app.get("/echo")
    async def documented() -> dict[str, str]:
        return {"via": "router"}

    app.fast_routes[("POST", "/echo")] = _echo
    return app


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_answer_carries_the_callers_request_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"hi", headers={"X-Request-ID": "abc-1"})
    assert response.status_code == 200
    assert response.json() == {"echo": "hi"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "abc-1"


async def test_app_error_is_problem_json_with_its_headers(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"refuse")
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "3"
    assert len(response.headers["x-request-id"]) == 32
    assert response.json() == {
        "type": "https://ordersync.dev/problems/refused_here",
        "title": "Refused",
        "status": 409,
        "detail": "no",
        "code": "refused_here",
        "instance": "/echo",
        "why": "asked to",
    }


async def test_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"x" * 17)
    assert response.status_code == 409
    assert response.json()["detail"] == "too big"


async def test_unexpected_error_is_a_problem_json_500(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", content=b"crash", headers={"X-Request-ID": "r-9"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "r-9"
    body = response.json()
    assert (body["code"], body["detail"]) == ("internal_error", "Unexpected error")
    assert "a bug" not in response.text


async def test_other_methods_go_through_fastapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/echo")).json() == {"via": "router"}


async def test_nobody_is_answered_when_the_client_left() -> None:
    app = _app()
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "headers": [],
        "query_string": b"",
    }
    await app(scope, receive, send)
    assert sent == []
