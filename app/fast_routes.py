"""Serving the hottest route without FastAPI's per-request routing and dependency solving.

For every request FastAPI tries the routes in turn, solves the endpoint's dependencies (which
parses the query string and cookies even when nothing asks for them) and wraps the call in an
exit stack. On the Lazada webhook, which a sale day hits hundreds of times a second, that
machinery cost more CPU than verifying and storing the push (bench/README.md). ``FastRoutes``
answers exactly the (method, path) pairs it is given by calling their endpoint with a plain
``Request``, renders ``AppError`` as the app's handler would, and passes everything else on.

The routes stay registered with FastAPI too: OpenAPI documents them, and a request the shortcut
does not take (another method, a trailing slash) gets the router's usual answer. It sits inside
``RequestIdMiddleware`` and ``ServerErrorMiddleware``, so request ids and the problem+json 500
are what any other route gets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.exception_handlers import app_error_response
from app.exceptions import AppError

Endpoint = Callable[[Request], Awaitable[Response]]


class FastRoutes:
    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except AppError as exc:
            response = app_error_response(request, exc)
        await response(scope, receive, send)
