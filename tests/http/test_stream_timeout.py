"""A streaming response's read timeout: the longest silence while a read waits, whatever
the stream's total length (each transport keeps it with one timer a stream), on both
asyncio transports."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Callable

import pytest

from gatewise._exceptions import APITimeoutError
from gatewise._http import Request, Timeout
from gatewise._http._async import AsyncRawStream, AsyncTransport
from tests._transports import ASYNC_TRANSPORTS, make_transport

Make = Callable[[], AsyncTransport]


@pytest.fixture(params=ASYNC_TRANSPORTS)
def make(request: pytest.FixtureRequest) -> Make:
    return lambda: make_transport(request.param)

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"transfer-encoding: chunked\r\n\r\n")
ERROR_HEAD = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
              b"content-length: 100\r\n\r\n")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def serve(gaps: list[float], head: bytes = HEAD, body: bytes = b""
                ) -> tuple[asyncio.Server, str]:
    """Sends ``head``, then one event after each gap in ``gaps`` (or ``body``, a moment
    after the head), then stays silent until the client leaves."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            if body:
                await asyncio.sleep(0.05)  # bytes after the head's: its timer is re-armed
                writer.write(body)
            for n, gap in enumerate(gaps):
                await asyncio.sleep(gap)
                writer.write(chunk(b'data: {"n":%d}\n\n' % n))
            await reader.read()  # until the client hangs up
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1/chat/completions"


async def open_stream(transport: AsyncTransport, url: str, read: float) -> AsyncRawStream:
    return await transport.open_stream(Request("POST", url, {}, b"{}"),
                                       Timeout(read=read, connect=5))


async def read_all(make: Make, url: str, read: float
                   ) -> tuple[list[tuple[float, bytes]], Exception]:
    """Each read (when, what) until the stream fails: ``(reads, its error)``."""
    transport = make()
    got: list[tuple[float, bytes]] = []
    try:
        async with asyncio.timeout(5):  # a broken timer fails the test, never hangs it
            stream = await open_stream(transport, url, read)
            start = time.monotonic()
            try:
                while data := await stream.read_chunk():
                    got.append((time.monotonic() - start, data))
            finally:
                stream.close()
    except Exception as exc:  # what ended it
        return got, exc
    finally:
        await transport.aclose()
    raise AssertionError(f"the stream ended cleanly: a read timeout was expected ({got})")


async def test_a_stream_with_short_gaps_outlives_its_read_timeout(make: Make) -> None:
    server, url = await serve([0.05] + [0.1] * 5)
    async with server:
        got, error = await read_all(make, url, read=0.4)
    assert isinstance(error, APITimeoutError) and "did not answer in time" in str(error)
    assert b"".join(data for _, data in got).count(b"data:") == 6  # no gap of 0.4 s
    assert got[-1][0] >= 0.45  # it lasted longer than its read timeout (0.55 s of events)


async def test_a_silence_soon_after_the_start_fails_once_it_is_as_long_as_the_timeout(
        make: Make) -> None:
    server, url = await serve([0.05])
    async with server:
        start = time.monotonic()
        got, error = await read_all(make, url, read=0.4)
    took = time.monotonic() - start
    assert isinstance(error, APITimeoutError) and len(got) == 1
    assert 0.4 <= took < 0.4 + 0.05 + 0.25  # not an eighth of the timeout late, or more


async def test_an_error_body_that_stalls_still_times_out(make: Make) -> None:
    server, url = await serve([], head=ERROR_HEAD, body=b'{"object":"error",')
    async with server:
        transport = make()
        try:
            stream = await open_stream(transport, url, read=0.3)
            assert stream.status == 503
            start = time.monotonic()
            error: Exception | None = None
            try:
                async with asyncio.timeout(5):
                    await stream.aread()
            except Exception as exc:
                error = exc
            finally:
                stream.close()
            assert isinstance(error, APITimeoutError), error
            assert time.monotonic() - start < 2
        finally:
            await transport.aclose()


async def test_a_stream_dropped_unclosed_is_not_kept_alive_by_its_timer(make: Make) -> None:
    server, url = await serve([0.05])
    async with server:
        transport = make()
        try:
            stream = await open_stream(transport, url, read=5)
            dropped = weakref.ref(stream)
            del stream
            gc.collect()
            assert dropped() is None
        finally:
            await transport.aclose()
