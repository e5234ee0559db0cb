"""A request id per request: taken from ``X-Request-ID`` when sane, made up otherwise, bound to
every log line of the request and carried into the jobs it enqueues."""

from __future__ import annotations

import os

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"


def _valid(value: bytes) -> bool:
    return 0 < len(value) <= 64 and all(
        48 <= c <= 57 or 65 <= c <= 122 or c in b"-_." for c in value
    )


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"")
        request_id = given.decode() if _valid(given) else os.urandom(16).hex()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((HEADER, request_id.encode()))
            await send(message)

        # bind/reset rather than ``bound_contextvars``, which copies the whole context on every
        # request (measurable on the webhook's hot path).
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
