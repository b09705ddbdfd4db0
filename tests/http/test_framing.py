"""How an answer's body is framed and encoded, read whole and as a stream, on both asyncio
transports: content-length, chunked, until the connection closes, gzip and deflate, a
``100 Continue`` before the answer; and what the request itself looks like on the wire."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import pytest

from gatewise._exceptions import APIConnectionError
from gatewise._http import Request, Timeout
from gatewise._http._async import AsyncTransport
from tests._transports import ASYNC_TRANSPORTS, make_transport
from tests.http._upstreams import Exchange, json_answer, upstream

TIMEOUT = Timeout(read=5, connect=5)
BODY = b'{"id":"x","choices":[]}'


@pytest.fixture(params=ASYNC_TRANSPORTS)
async def transport(request: pytest.FixtureRequest) -> AsyncTransport:
    made = make_transport(request.param)
    yield made
    await made.aclose()


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def answer_with(head: bytes, body: bytes, *, close: bool = False
                ) -> Callable[[Exchange], object]:
    async def answer(exchange: Exchange) -> None:
        await exchange.send(head + body)
        if close:
            exchange.writer.close()
    return answer


FRAMINGS = {
    "content-length": (b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(BODY), BODY,
                       False),
    "chunked": (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                chunked(BODY[:5], BODY[5:]), False),
    "until-close": (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n", BODY, True),
    "gzip": (b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n"
             % len(gzip.compress(BODY)), gzip.compress(BODY), False),
    "deflate": (b"HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ntransfer-encoding: "
                b"chunked\r\n\r\n", chunked(zlib.compress(BODY)), False),
    "100-continue": (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: %d"
                     b"\r\n\r\n" % len(BODY), BODY, False),
    # The lean transport reads the headers from the head's bytes: whatever their case, and
    # a head of a score of headers (Mistral's gateway sends that many).
    "GZIP IN CAPITALS": (b"HTTP/1.1 200 OK\r\nCONTENT-ENCODING: GZIP\r\nContent-Length: %d\r\n"
                         b"\r\n" % len(gzip.compress(BODY)), gzip.compress(BODY), False),
    "many headers": (b"HTTP/1.1 200 OK\r\n"
                     + b"".join(b"x-header-%d: %d\r\n" % (n, n) for n in range(40))
                     + b"content-length: %d\r\n\r\n" % len(BODY), BODY, False),
}


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_a_body_is_read_whole_however_it_is_framed(transport: AsyncTransport,
                                                         framing: str) -> None:
    head, body, close = FRAMINGS[framing]
    async with upstream(answer_with(head, body, close=close)) as up:
        for _ in range(2):  # the second on the kept connection, or a new one after a close
            response = await transport.request(Request("POST", up.url, {}, b"{}"), TIMEOUT)
            assert (response.status, response.content) == (200, BODY)
        assert up.connections == (2 if close else 1)
    assert transport.connections_in_use() == 0


@pytest.mark.parametrize("framing", FRAMINGS)
async def test_a_stream_is_read_whole_however_it_is_framed(transport: AsyncTransport,
                                                           framing: str) -> None:
    head, body, close = FRAMINGS[framing]
    async with upstream(answer_with(head, body, close=close)) as up:
        stream = await transport.open_stream(Request("POST", up.url, {}, b"{}"), TIMEOUT)
        try:
            got = b""
            while data := await stream.read_chunk():
                got += data
        finally:
            stream.close()
    assert (stream.status, got) == (200, BODY)


async def test_a_body_cut_short_is_a_connection_error(transport: AsyncTransport) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n"
    async with upstream(answer_with(head, BODY, close=True)) as up:
        with pytest.raises(APIConnectionError, match="could not talk to the upstream"):
            await transport.request(Request("POST", up.url, {}, b"{}"), TIMEOUT)
    assert transport.connections_in_use() == 0


async def test_a_malformed_answer_is_a_connection_error(transport: AsyncTransport) -> None:
    async with upstream(answer_with(b"HTTP/1.1 abc nonsense\r\n\r\n", b"", close=True)) as up:
        with pytest.raises(APIConnectionError):
            await transport.request(Request("POST", up.url, {}, b"{}"), TIMEOUT)


async def test_a_head_arriving_a_byte_at_a_time_is_read(transport: AsyncTransport) -> None:
    head = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
            b"Set-Cookie: a=1\r\nset-cookie: b=2\r\n"
            b"Content-Length: %d\r\n\r\n" % len(gzip.compress(BODY)))

    async def answer(exchange: Exchange) -> None:
        for at in range(len(head)):
            await exchange.send(head[at:at + 1])
        await exchange.send(gzip.compress(BODY))

    async with upstream(answer) as up:
        response = await transport.request(Request("POST", up.url, {}, b"{}"), TIMEOUT)
    assert (response.status, response.content) == (200, BODY)
    # (a repeated header: the lean transport joins its values, aiohttp gives the first)
    assert response.headers["set-cookie"] in ("a=1, b=2", "a=1")
    assert response.headers["content-encoding"] == "gzip"


async def test_a_head_without_end_is_refused_past_its_limit() -> None:
    """An upstream that sends headers without end (a broken or hostile server) fails the
    call once the head passes 64 KiB, rather than holding memory without bound."""
    async def answer(exchange: Exchange) -> None:
        await exchange.send(b"HTTP/1.1 200 OK\r\n")
        for n in range(2000):
            await exchange.send(b"x-filler-%d: %s\r\n" % (n, b"f" * 100))

    transport = make_transport("lean")
    try:
        async with upstream(answer) as up:
            with pytest.raises(APIConnectionError, match="head larger than 64 KiB"):
                await transport.request(Request("POST", up.url, {}, b"{}"), TIMEOUT)
        assert transport.connections_in_use() == 0
    finally:
        await transport.aclose()


async def test_headers_ignore_case(transport: AsyncTransport) -> None:
    async with upstream(json_answer(extra=b"Retry-After: 7\r\n")) as up:
        response = await transport.request(Request("POST", up.url, {}, b"{}"), TIMEOUT)
    assert response.headers["retry-after"] == response.headers.get("Retry-After") == "7"
    assert "RETRY-AFTER" in response.headers


async def test_the_request_on_the_wire() -> None:
    transport = make_transport("lean")
    async with upstream(json_answer()) as up:
        await transport.request(Request("POST", up.url + "?x=1", {"Authorization": "Bearer k",
                                                                  "X-Extra": "é"}, b"{}"),
                                TIMEOUT)
        await transport.request(Request("GET", up.url, {}), TIMEOUT)
    post, get = up.requests
    assert post.head.startswith(b"POST /v1/chat/completions?x=1 HTTP/1.1\r\n")
    port = up.url.split(":")[2].split("/")[0]
    assert post.header(b"host") == f"127.0.0.1:{port}".encode()
    assert post.header(b"content-length") == b"2" and post.body == b"{}"
    assert post.header(b"x-extra") == "é".encode()
    assert post.header(b"accept-encoding") is None  # so the upstream sends it plain
    assert get.header(b"content-length") is None and get.header(b"transfer-encoding") is None
    await transport.aclose()


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "a\rb"])
async def test_a_header_with_a_line_break_is_never_sent(value: str) -> None:
    transport = make_transport("lean")
    async with upstream(json_answer()) as up:
        with pytest.raises(APIConnectionError, match="line break") as caught:
            await transport.request(Request("POST", up.url, {"X-Bad": value}, b"{}"), TIMEOUT)
        assert up.connections == 0 and caught.value.unsent
    await transport.aclose()


async def test_a_head_request_reads_no_body() -> None:
    transport = make_transport("lean")
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n"
    async with upstream(answer_with(head, b"")) as up:
        response = await transport.request(Request("HEAD", up.url, {}), TIMEOUT)
    assert (response.status, response.content) == (200, b"")
    assert transport.connections_in_use() == 0
    await transport.aclose()


async def test_a_bad_url_is_refused_before_any_connection() -> None:
    transport = make_transport("lean")
    for url in ("ftp://example.com/x", "http://user:pw@example.com/x", "not a url"):
        with pytest.raises(APIConnectionError) as caught:
            await transport.request(Request("POST", url, {}, b"{}"), TIMEOUT)
        assert caught.value.unsent
    await transport.aclose()


async def test_each_request_carries_its_own_headers() -> None:
    transport = make_transport("lean")  # (which keeps request heads it has made)
    headers = {"Authorization": "Bearer one"}
    async with upstream(json_answer()) as up:
        await transport.request(Request("POST", up.url, headers, b"{}"), TIMEOUT)
        headers["Authorization"] = "Bearer two"
        await transport.request(Request("POST", up.url, headers, b"{1}"), TIMEOUT)
        await transport.request(Request("POST", up.url, headers, None), TIMEOUT)
    assert [r.header(b"authorization") for r in up.requests] == [b"Bearer one",
                                                                 b"Bearer two", b"Bearer two"]
    assert [r.header(b"content-length") for r in up.requests] == [b"2", b"3", b"0"]
    await transport.aclose()
