"""A request id per request: taken from ``X-Request-ID`` when sane, made up otherwise, bound to
every log line of the request and carried into the jobs it enqueues."""

from __future__ import annotations

import random

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = b"x-request-id"


def _valid(value: bytes) -> bool:
    return 0 < len(value) <= 64 and all(
        48 <= c <= 57 or 65 <= c <= 122 or c in b"-_." for c in value
    )


def request_id_from(given: bytes | None) -> str:
    """The caller's id when it is sane (short, no spaces or control characters), else a new one.

    A new one only has to be unique enough to tell requests apart in the logs, not secret:
    ``random`` costs no system call (``os.urandom`` did one per webhook push).
    """
    if given and _valid(given):
        return given.decode()
    return f"{random.getrandbits(128):032x}"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(dict(scope["headers"]).get(REQUEST_ID_HEADER))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((REQUEST_ID_HEADER, request_id.encode()))
            await send(message)

        # bind/reset rather than ``bound_contextvars``, which copies the whole context on every
        # request (measurable on the webhook's hot path).
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
