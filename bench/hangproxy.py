"""A TCP proxy on loopback that can stop forwarding: Postgres "accepts TCP but never answers".

A hung database server, or a network path that black-holes packets, looks like this to a client:
connections open (or are already open), bytes go out, nothing comes back, no error arrives. Only
the client's own timeouts can tell. ``pause()`` holds every byte in both directions (new
connections are accepted and held too); ``resume()`` lets them through again, as a server that
recovers would. Test-only: it runs in the caller's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class HangingProxy:
    upstream_port: int
    host: str = "127.0.0.1"
    port: int = 0
    _flowing: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    def pause(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    @property
    def paused(self) -> bool:
        return not self._flowing.is_set()

    async def stop(self) -> None:
        self._flowing.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self._writers.add(client)
        await self._flowing.wait()  # a connection opened while hanging waits with the rest
        try:
            upstream_reader, upstream = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            client.close()
            return
        self._writers.add(upstream)
        for source, sink in ((client_reader, upstream), (upstream_reader, client)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                await self._flowing.wait()
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.close()
            self._writers.discard(sink)
