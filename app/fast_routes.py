"""Serving the hottest route as plain ASGI, in front of everything FastAPI does per request.

On a sale day the Lazada webhook is hit hundreds of times a second, and for every request
FastAPI and Starlette run their middleware stack (telemetry, body limit, error handling, our
request id), build ``Request`` and ``Response`` objects, try the routes in turn and solve the
endpoint's dependencies. Measured on the webhook, that machinery cost more CPU than verifying
and storing the push (bench/README.md). ``OrderSyncApp`` answers the (method, path) pairs in
``fast_routes`` itself, before any of it, and hands everything else to FastAPI unchanged.

A fast route gets a ``RawRequest`` and returns its status and JSON body. What the stack would
otherwise add is done here, the same way: the request id (bound to the log lines, echoed in
``X-Request-ID``), ``AppError`` rendered as problem+json, and anything unexpected logged and
answered with the problem+json 500. The routes stay registered with FastAPI too, so OpenAPI
documents them and another method gets the router's 405.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.exception_handlers import (
    PROBLEM_JSON,
    app_error_body,
    invalid_value_error,
    unexpected_error_body,
)
from app.exceptions import AppError
from app.middleware import REQUEST_ID_HEADER, request_id_from

_JSON = b"application/json"


class ClientGone(Exception):
    """The client disconnected before its request body arrived: nobody to answer."""


@dataclass(slots=True)
class RawRequest:
    app: OrderSyncApp
    scope: Scope
    receive: Receive
    headers: dict[bytes, bytes]

    def header(self, name: bytes) -> bytes | None:
        """A request header by its lower-case name (the last one when repeated)."""
        return self.headers.get(name)

    async def body(self, limit: int, too_large: Callable[[], Exception]) -> bytes:
        """The whole body, refusing with ``too_large()`` as soon as it passes ``limit`` bytes
        (before reading any when ``Content-Length`` says it will)."""
        declared = self.headers.get(b"content-length")
        # bytes.isdigit() is ASCII-only; the length cap keeps int() away from huge numbers.
        if declared and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            raise too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large()
            if not message.get("more_body", False):
                if not chunks:
                    return chunk
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)


FastEndpoint = Callable[[RawRequest], Awaitable[tuple[int, bytes]]]


class OrderSyncApp(FastAPI):
    """FastAPI, with a few routes answered before its per-request machinery."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_routes: dict[tuple[str, str], FastEndpoint] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.fast_routes.get((scope["method"], scope["path"]))
            if endpoint is not None:
                await self._serve_fast(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve_fast(
        self, endpoint: FastEndpoint, scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers = dict(scope["headers"])
        request_id = request_id_from(headers.get(REQUEST_ID_HEADER))
        # bind/reset rather than ``bound_contextvars``, which copies the whole context.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            try:
                status, body = await endpoint(RawRequest(self, scope, receive, headers))
            except ClientGone:
                return
            except Exception as exc:
                status, body, extra = _error_answer(exc, scope["path"])
                content_type = PROBLEM_JSON.encode()
            else:
                content_type, extra = _JSON, []
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", content_type),
                        (b"content-length", str(len(body)).encode()),
                        (REQUEST_ID_HEADER, request_id.encode()),
                        *extra,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            structlog.contextvars.reset_contextvars(**tokens)


def _error_answer(exc: Exception, path: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """What the app's exception handlers would answer: the error's problem+json, or a 500."""
    if not isinstance(exc, AppError):
        exc = invalid_value_error(exc, path) or exc
    if isinstance(exc, AppError):
        headers = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
        return exc.status_code, orjson.dumps(app_error_body(exc, path)), headers
    return 500, orjson.dumps(unexpected_error_body(exc, path)), []
