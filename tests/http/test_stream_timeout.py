"""A streaming response's read timeout: the longest silence while a read waits, whatever
the stream's total length (the aiohttp transport keeps it with one timer a stream)."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import AsyncIterator

from gatewise._exceptions import APITimeoutError
from gatewise._http import Request, Timeout
from gatewise._http._async import AiohttpTransport

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"transfer-encoding: chunked\r\n\r\n")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def serve(gaps: list[float]) -> tuple[asyncio.Server, str]:
    """Sends the head, then one event after each gap in ``gaps``, then stays silent."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(HEAD)
        for n, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            writer.write(chunk(b'data: {"n":%d}\n\n' % n))
        await asyncio.sleep(30)

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1/chat/completions"


async def reads(url: str, read: float) -> AsyncIterator[tuple[float, bytes]]:
    transport = AiohttpTransport()
    try:
        stream = await transport.open_stream(Request("POST", url, {}, b"{}"),
                                             Timeout(read=read, connect=5))
        try:
            start = time.monotonic()
            while True:
                data = await stream.read_chunk()
                yield time.monotonic() - start, data
        finally:
            stream.close()
    finally:
        await transport.aclose()


async def read_all(url: str, read: float) -> tuple[list[tuple[float, bytes]], Exception]:
    got: list[tuple[float, bytes]] = []
    try:
        async for item in reads(url, read):
            got.append(item)
    except Exception as exc:  # what ended it
        return got, exc
    raise AssertionError("the stream never ends: a read timeout was expected")


async def test_a_stream_with_short_gaps_outlives_its_read_timeout() -> None:
    server, url = await serve([0.05] + [0.15] * 4)
    async with server:
        got, error = await read_all(url, read=0.3)
    assert isinstance(error, APITimeoutError) and "did not answer in time" in str(error)
    assert b"".join(data for _, data in got).count(b"data:") == 5  # no gap of 0.3 s
    assert got[-1][0] >= 0.6  # the stream lasted longer than its read timeout


async def test_a_silence_longer_than_the_read_timeout_fails_soon_after_it() -> None:
    server, url = await serve([0.05])
    async with server:
        start = time.monotonic()
        _, error = await read_all(url, read=0.3)
    assert isinstance(error, APITimeoutError)
    assert 0.3 <= time.monotonic() - start < 1.5


async def test_a_stream_dropped_unclosed_is_not_kept_alive_by_its_timer() -> None:
    server, url = await serve([0.05])
    async with server:
        transport = AiohttpTransport()
        try:
            stream = await transport.open_stream(Request("POST", url, {}, b"{}"),
                                                 Timeout(read=5, connect=5))
            dropped = weakref.ref(stream)
            del stream
            gc.collect()
            assert dropped() is None
        finally:
            await transport.aclose()
