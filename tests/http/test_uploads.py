"""A streamed request body (``Request.content`` an async iterable of bytes) on both asyncio
transports: chunked unless the caller gives a Content-Length, read once and so never
retried; the lean transport stops sending when the answer comes first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gatewise._exceptions import ServiceUnavailableError
from gatewise._http import Request, RetryPolicy, Timeout, _async
from gatewise._http._async import AsyncTransport
from gatewise._http._h1 import LeanTransport
from gatewise.providers.mistral.errors import error_for
from tests._transports import ASYNC_TRANSPORTS, make_transport
from tests.http._upstreams import Exchange, json_answer, upstream

TIMEOUT = Timeout(read=5, connect=5)
PARTS = [b"RIFF", b"", b"audio " * 1000, b"end"]


async def parts(delay: float = 0.0) -> AsyncIterator[bytes]:
    for part in PARTS:
        await asyncio.sleep(delay)
        yield part


@pytest.fixture(params=ASYNC_TRANSPORTS)
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[AsyncTransport]:
    made = make_transport(request.param)
    yield made
    await made.aclose()


async def test_a_streamed_body_is_sent_chunked(transport: AsyncTransport) -> None:
    async with upstream(json_answer()) as up:
        response = await transport.request(
            Request("POST", up.url, {"Content-Type": "audio/wav"}, parts(0.01)), TIMEOUT)
        assert response.status == 200
        (got,) = up.requests
    assert got.header(b"transfer-encoding") == b"chunked"
    assert got.header(b"content-length") is None
    assert got.body == b"".join(PARTS)


async def test_a_streamed_body_of_a_known_length_is_sent_as_is(transport: AsyncTransport
                                                                ) -> None:
    size = str(sum(map(len, PARTS)))
    async with upstream(json_answer()) as up:
        for _ in range(2):  # and the connection stays usable
            stream = await transport.open_stream(
                Request("POST", up.url, {"Content-Length": size}, parts()), TIMEOUT)
            assert stream.status == 200 and await stream.aread() == b'{"ok":true}'
            stream.close()
        first, second = up.requests
    assert first.header(b"content-length") == size.encode()
    assert first.header(b"transfer-encoding") is None
    assert first.body == second.body == b"".join(PARTS)


async def test_a_streamed_body_is_never_retried(transport: AsyncTransport) -> None:
    async def unavailable(exchange: Exchange) -> None:
        body = b'{"object":"error","message":"busy","type":"x","code":"1"}'
        await exchange.send(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: %d\r\n\r\n%b"
                            % (len(body), body))

    async with upstream(unavailable) as up:
        with pytest.raises(ServiceUnavailableError):
            await _async.send(transport, Request("POST", up.url, {}, parts()), timeout=TIMEOUT,
                              policy=RetryPolicy(num_retries=3, backoff_base=0.01),
                              error_for=lambda s, b, h: error_for(s, b, headers=h, model="m"),
                              provider="mistral", model="m")
        assert len(up.requests) == 1


async def test_an_answer_before_the_whole_upload_stops_it() -> None:
    async def refuse_on_the_head(reader: asyncio.StreamReader,
                                 writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 2\r\n\r\nno")
        await reader.read()  # (not reading the body: the client's writes fill the buffers)
        writer.close()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"x" * 65536
            await asyncio.sleep(0)

    transport = LeanTransport()
    server = await asyncio.start_server(refuse_on_the_head, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/audio"
    async with server:
        response = await asyncio.wait_for(transport.request(
            Request("POST", url, {}, endless()), TIMEOUT), 5)
        assert (response.status, response.content) == (413, b"no")
        assert transport.connections_in_use() == 0
        assert not next(iter(transport._pools.values())).idle  # half a request: not kept
    await transport.aclose()
