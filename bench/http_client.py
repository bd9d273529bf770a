"""The load generator's HTTP/1.1 clients: one keep-alive connection per virtual user.

The default, :class:`RawConnection`, writes prepared request bytes on an asyncio stream and reads the
status line, headers and body back; it costs the generator a small fraction of what ``httpx`` does per
request, which matters when generator, server workers and database share two cores (see
bench/RESULTS.md). :class:`HttpxConnection` does the same through ``httpx.AsyncClient``, to cross-check.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx

#: Longest response head accepted (status line and headers).
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One prepared request: a JSON body and extra headers (a cookie, for passkey sign-in)."""

    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "POST"


class Connection(Protocol):
    async def send(self, request: Request) -> int:
        """Send ``request``, read the whole response; its status code."""
        ...

    async def close(self) -> None: ...


class RawConnection:
    """HTTP/1.1 over one asyncio stream, reconnecting when the server closes it."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"{base_url!r} needs a host and a port")
        self._host, self._port = parts.hostname, parts.port
        self._authority = f"{parts.hostname}:{parts.port}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    def encode(self, request: Request) -> bytes:
        lines = [
            f"{request.method} {request.path} HTTP/1.1",
            f"Host: {self._authority}",
            "Content-Type: application/json",
            f"Content-Length: {len(request.body)}",
            *(f"{name}: {value}" for name, value in request.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body

    async def send(self, request: Request) -> int:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port, limit=MAX_HEAD)
        assert self._reader is not None
        try:
            self._writer.write(self.encode(request))
            head = await self._reader.readuntil(b"\r\n\r\n")
            status, length, chunked, close = _parse_head(head)
            if chunked:
                await _read_chunked(self._reader)
            elif length:
                await self._reader.readexactly(length)
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _parse_head(head: bytes) -> tuple[int, int, bool, bool]:
    """Status, Content-Length, chunked, Connection: close."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 "):
        raise ConnectionError(f"not an HTTP/1.1 response: {lines[0][:40]!r}")
    status = int(lines[0][9:12])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    return status, length, chunked, close


async def _read_chunked(reader: asyncio.StreamReader) -> None:
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return


class HttpxConnection:
    """The same through ``httpx.AsyncClient`` (one client, one connection, per virtual user)."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url, limits=httpx.Limits(max_connections=1), timeout=30.0, cookies=None
        )

    async def send(self, request: Request) -> int:
        self._client.cookies.clear()  # cookies go in the prepared headers only
        response = await self._client.request(
            request.method,
            request.path,
            content=request.body,
            headers={"content-type": "application/json", **dict(request.headers)},
        )
        return response.status_code

    async def close(self) -> None:
        await self._client.aclose()


CLIENTS: dict[str, Callable[[str], Connection]] = {"raw": RawConnection, "httpx": HttpxConnection}
