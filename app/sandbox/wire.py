"""Connection-level tricks for the fault knobs: hang until the client gives up, or drop the
connection without any response.

ASGI has no "close the socket" message, so ``drop_connection`` reaches the server's transport
through the raw ``receive`` callable (uvicorn's is a bound method of the request cycle, which
holds the transport). ``RawReceiveMiddleware`` stores that callable in the scope before any
framework layer wraps it.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

RAW_RECEIVE = "sandbox.raw_receive"


class RawReceiveMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_RECEIVE] = receive
        await self.app(scope, receive, send)


def _raw_receive(request: Request) -> Receive:
    receive: Receive = request.scope.get(RAW_RECEIVE, request.receive)
    return receive


async def wait_disconnected(request: Request) -> None:
    """Returns once the client has gone; the request body must already have been read."""
    receive = _raw_receive(request)
    while (await receive())["type"] != "http.disconnect":
        pass


async def hang(request: Request, seconds: float, release: asyncio.Event) -> bool:
    """Waits ``seconds``, or until the client disconnects, or until ``release`` is set (a
    sandbox reset). True if the client disconnected: nobody is left to answer."""
    gone = asyncio.ensure_future(wait_disconnected(request))
    waits = {
        gone,
        asyncio.ensure_future(asyncio.sleep(seconds)),
        asyncio.ensure_future(release.wait()),
    }
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        for task in waits:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return gone.done() and not gone.cancelled()


async def drop_connection(request: Request) -> bool:
    """Closes the client's connection without writing a byte. False if the server does not
    expose its transport (the caller then falls back to an error status)."""
    receive = _raw_receive(request)
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "close"):
        return False
    transport.close()
    # Wait for the server to notice, so that the response the framework still sends is
    # discarded instead of being reported as an application error.
    await wait_disconnected(request)
    return True
