"""Run ASGI apps on real sockets inside the current event loop.

The CLI uses this to serve the API and the sandbox side by side; the tests use it to put the
service and the sandbox on loopback ports so that every call crosses real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


class CannotListen(Exception):
    """The address is taken or not ours to bind; the message says which and what to do."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port``, for uvicorn to listen on.

    Binding first, before anything slow starts, turns a busy port into one clear line at once
    instead of an error after start-up has already announced the address.
    """
    # IPPROTO_TCP, not 0: asyncio only disables Nagle on sockets that say they are TCP, and
    # Nagle plus delayed ACKs adds ~40 ms to every response.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = (
            ": another process listens there (another ordersync?); stop it or choose another port"
            if exc.errno == errno.EADDRINUSE
            else ""
        )
        raise CannotListen(f"Cannot listen on {host}:{port} ({exc.strerror}){hint}.") from None
    return sock


class _GuestServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signals to whoever owns the event loop.

    uvicorn takes SIGINT and SIGTERM for itself while it serves, then raises them again once
    it stopped; several servers in one loop would pass a Ctrl-C down their chain and end with
    a ``KeyboardInterrupt`` in the middle of their owner's shutdown.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class BackgroundServer:
    """A uvicorn server started as a task; ``url`` is known once ``start()`` returns.

    The port is bound at construction (``CannotListen`` when it cannot be). ``lifespan="off"``
    is for an app whose lifespan its owner already runs.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["on", "off"] = "on",
    ) -> None:
        self._sock = bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan=lifespan,
            timeout_graceful_shutdown=5,
        )
        self._server = _GuestServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # surfaces the startup error
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sock.close()


@contextlib.asynccontextmanager
async def serve_in_background(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[BackgroundServer]:
    server = BackgroundServer(app, host=host, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
