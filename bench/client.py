"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the parts wrk cannot do.

Used for streaming (time to the first event, events counted in every answer), for the
pure-Python load loop when wrk is missing, and for the soak scenario (clients that hang
up mid-stream).  It reads ``content-length`` and ``chunked`` bodies and nothing fancier.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    body: bytes
    first_byte: float  # seconds from sending until the first body byte
    total: float       # seconds from sending until the whole answer was read
    close: bool        # the server asked to close the connection


def build_request(path: str, body: bytes, key: str | None, host: str = "127.0.0.1") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection; reconnects when the server closed it."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20)
        return self.reader, self.writer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, raw: bytes, read_bytes: int | None = None) -> Answer:
        """Send ``raw`` and read the answer.  With ``read_bytes``, hang up as soon as that many
        body bytes arrived (a client leaving mid-stream)."""
        reader, writer = await self._connect()
        start = time.perf_counter()
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        first = 0.0
        parts: list[bytes] = []
        received = 0
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                data = await reader.readexactly(size + 2)
                if not first:
                    first = time.perf_counter() - start
                parts.append(data[:-2])
                received += size
                if read_bytes is not None and received >= read_bytes:
                    await self.close()
                    return Answer(status, b"".join(parts), first,
                                  time.perf_counter() - start, True)
        elif length:
            if read_bytes is not None and read_bytes < length:
                parts.append(await reader.readexactly(read_bytes))
                first = time.perf_counter() - start
                await self.close()
                return Answer(status, parts[0], first, time.perf_counter() - start, True)
            parts.append(await reader.readexactly(length))
            first = time.perf_counter() - start
        total = time.perf_counter() - start
        if close:
            await self.close()
        return Answer(status, b"".join(parts), first or total, total, close)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def count_events(body: bytes) -> int:
    """``data:`` events in an SSE body, ``[DONE]`` excluded."""
    return body.count(b"data: ") - body.count(b"data: [DONE]")
