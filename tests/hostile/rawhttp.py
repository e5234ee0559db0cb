"""HTTP/1.1 over one TCP connection, with the bytes exactly as given.

A hostile client does not go through a polite library: httpx would refuse to send a NUL in a
header and would quietly open a new connection when the server closed the old one. This client
sends what it is told and fails when the server closes the connection, so a test can prove that
a bad request did not cost the client its keep-alive connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import orjson


class ConnectionClosed(AssertionError):
    """The server closed the connection instead of answering on it."""


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; the last one when repeated
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return orjson.loads(self.body)

    def __str__(self) -> str:
        return f"{self.status} {self.content_type} {self.body[:300]!r}"


class RawHttp:
    def __init__(self, host: str, port: int, *, headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self.default_headers = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.connections = 0  # how many TCP connections this client has opened

    async def __aenter__(self) -> RawHttp:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        await self.close()
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self.connections += 1

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
        content_type: bytes = b"application/json",
    ) -> RawResponse:
        """``target`` is sent as is: percent-encode it yourself."""
        assert self._writer is not None, "not connected"
        lines = [f"{method} {target} HTTP/1.1".encode(), f"host: {self.host}:{self.port}".encode()]
        lines += [name + b": " + value for name, value in self.default_headers + (headers or [])]
        if body is not None:
            lines += [b"content-type: " + content_type, b"content-length: %d" % len(body)]
        self._writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + (body or b""))
        await self._writer.drain()
        try:
            return await asyncio.wait_for(self._read_response(), 30)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            what = f"{method} {target[:120]}"
            raise ConnectionClosed(f"{what}: the server closed the connection") from exc

    async def _read_response(self) -> RawResponse:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self._reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        return RawResponse(status, headers, body)
