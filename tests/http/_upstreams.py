"""Hand-written HTTP/1.1 upstreams for transport tests: each answer is bytes the test
chooses (framing, timing, closing), so the client's side of the wire can be checked
exactly.  Plain asyncio streams; TLS when given a server context."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

Answer = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request as the upstream read it, and the means to answer."""

    head: bytes
    body: bytes
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    connection: int  # which connection it came on (0, 1, ...)

    def header(self, name: bytes) -> bytes | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


@dataclass
class Upstream:
    url: str
    requests: list[Exchange] = field(default_factory=list)
    connections: int = 0
    closed: int = 0  # connections the client closed (or that ended)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    lowered = head.lower()
    if b"\r\ntransfer-encoding: chunked" in lowered:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(data[:-2])
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return await reader.readexactly(int(line.split(b":")[1]))
    return b""


@contextlib.asynccontextmanager
async def upstream(answer: Answer, *, tls: ssl.SSLContext | None = None,
                   host: str = "127.0.0.1", path: str = "/v1/chat/completions"
                   ) -> AsyncIterator[Upstream]:
    """Serve ``answer`` for each request, keeping connections alive (``answer`` may close
    one with ``exchange.writer.close()``)."""
    state = Upstream("")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = state.connections
        state.connections += 1
        state.writers.append(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                body = await _read_body(reader, head)
                exchange = Exchange(head, body, reader, writer, number)
                state.requests.append(exchange)
                await answer(exchange)
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            state.closed += 1
            writer.close()

    server = await asyncio.start_server(serve, host, 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    state.url = f"{scheme}://{'localhost' if tls else host}:{port}{path}"
    async with server:
        try:
            yield state
        finally:
            for writer in state.writers:
                writer.close()


def json_answer(body: bytes = b'{"ok":true}', *, extra: bytes = b"") -> Answer:
    async def answer(exchange: Exchange) -> None:
        await exchange.send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                            b"content-length: %d\r\n%b\r\n%b" % (len(body), extra, body))
    return answer


async def silent(exchange: Exchange) -> None:
    """Never answer: wait until the client leaves."""
    await exchange.reader.read()
    exchange.writer.close()


async def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Wait (polling) until ``check()`` holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check():
        if loop.time() > deadline:
            raise AssertionError("the condition never held")
        await asyncio.sleep(0.01)
