"""The proxy's server protocol (``gatewise.proxy._protocol`` and ``_cycle``) with small ASGI
apps: what it writes, and when, on a recording transport (one ``write()`` per small
answer, a head whose body is late still goes out), and over real sockets (pipelining,
``Expect: 100-continue``, ``HEAD``, chunked streams, a header that could split the head,
idle connections closed)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from gatewise.proxy._asgi import DIRECT
from gatewise.proxy._protocol import HttpProtocol, ServerShared
from tests.proxy._inprocess import read_answer, serving, until_closed

App = Callable[[Any, Any, Any], Awaitable[None]]
GET = b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n"


async def hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    message = await receive()
    body = b"hello " + message["body"]
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def stream(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    for part in (b"one", b"two"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class Recording(asyncio.Transport):
    """A transport that keeps what is written, one item per ``write()``."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def requested(app: App) -> tuple[HttpProtocol, Recording]:
    """A connection of the protocol that ``GET`` has come on, its task just started."""
    config = Config(app, log_level="warning", lifespan="off")
    protocol = HttpProtocol(config, ServerState(), {}, asyncio.get_running_loop(),
                            shared=ServerShared(max_head=8192, head_timeout=5.0))
    transport = Recording()
    protocol.connection_made(transport)
    protocol.data_received(GET)
    return protocol, transport


async def served(app: App, *requests: bytes) -> tuple[Recording, ServerState]:
    """``requests`` fed to one connection of the protocol; what it wrote."""
    config = Config(app, log_level="warning", lifespan="off")
    state = ServerState()
    state.default_headers = [(b"date", b"Thu, 01 Jan 2026 00:00:00 GMT")]  # uvicorn's, each s
    protocol = HttpProtocol(config, state, {}, asyncio.get_running_loop(),
                            shared=ServerShared(max_head=8192, head_timeout=5.0))
    transport = Recording()
    protocol.connection_made(transport)
    for request in requests:
        protocol.data_received(request)
    for _ in range(50):  # the tasks run and the heads are flushed
        await asyncio.sleep(0)
    assert not state.tasks
    protocol.connection_lost(None)
    return transport, state


async def test_a_small_answer_is_one_write() -> None:
    transport, state = await served(hello, b"POST /x HTTP/1.1\r\nhost: t\r\n"
                                           b"content-length: 5\r\n\r\nworld")
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-length: 11" in head and b"\r\ndate: " in head
    assert body == b"hello world"
    assert state.total_requests == 1


async def test_a_stream_s_head_goes_with_its_first_piece_chunked() -> None:
    transport, _ = await served(stream, GET)
    first, *rest = transport.writes
    assert b"transfer-encoding: chunked\r\n\r\n3\r\none\r\n" in first
    assert b"".join(rest) == b"3\r\ntwo\r\n0\r\n\r\n"


async def test_a_head_whose_body_is_late_is_not_held_back() -> None:
    body_may_go = asyncio.Event()

    async def late(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})
        await body_may_go.wait()
        await send({"type": "http.response.body", "body": b"ok"})

    async def check() -> None:
        await asyncio.sleep(0.05)
        assert transport.writes and transport.writes[0].endswith(b"\r\n\r\n")  # the head
        body_may_go.set()

    protocol, transport = requested(late)
    await check()
    await asyncio.sleep(0.05)
    assert transport.writes[1:] == [b"ok"]
    protocol.connection_lost(None)


async def test_a_whole_answer_through_respond_is_one_write_and_ends_the_exchange() -> None:
    said: list[bool] = []

    async def whole(scope: Any, receive: Any, send: Any) -> None:
        said.append(scope[DIRECT].respond(201, [(b"content-type", b"text/plain")], b"made"))

    transport, state = await served(whole, GET, GET)  # (the second waits for the first)
    assert said == [True, True] and len(transport.writes) == 2
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 Created\r\n")
    assert b"\r\ntransfer-encoding: chunked" in head  # no length given: chunked, as send's
    assert body == b"4\r\nmade\r\n0\r\n\r\n"
    assert state.total_requests == 2


async def test_respond_leaves_a_slow_client_to_the_messages_and_checks_as_send_does(
        ) -> None:
    outcomes: list[object] = []

    async def slow_reader(scope: Any, receive: Any, send: Any) -> None:
        protocol = scope["protocol"]
        protocol.pause_writing()  # the client is not taking what was written
        outcomes.append(scope[DIRECT].respond(200, [(b"content-length", b"2")], b"ok"))
        protocol.resume_writing()
        outcomes.append(scope[DIRECT].respond(200, [(b"content-length", b"2")], b"ok"))
        try:
            scope[DIRECT].respond(200, [(b"content-length", b"2")], b"ok")
        except RuntimeError as exc:
            outcomes.append(str(exc))

    def with_protocol(app: App) -> App:
        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            scope["protocol"] = send.__self__.conn
            await app(scope, receive, send)
        return wrapped

    transport, _ = await served(with_protocol(slow_reader), GET)
    assert outcomes[:2] == [False, True] and "already started" in str(outcomes[2])
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\nok")


async def test_pieces_through_write_go_with_the_head_then_one_write_each() -> None:
    outcomes: list[object] = []

    async def pieces(scope: Any, receive: Any, send: Any) -> None:
        write = scope[DIRECT].piece
        with pytest.raises(RuntimeError, match="before the response started"):
            write(b"early")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        outcomes.append(write(b"one"))
        protocol = send.__self__.conn
        protocol.pause_writing()  # the client is not taking what was written
        outcomes.append(write(b"held"))
        protocol.resume_writing()
        outcomes.append(write(b"two"))
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        with pytest.raises(RuntimeError, match="after response already completed"):
            write(b"late")

    transport, _ = await served(pieces, GET)
    assert outcomes == [True, False, True]
    first, *rest = transport.writes
    assert first.endswith(b"transfer-encoding: chunked\r\n\r\n3\r\none\r\n")
    assert rest == [b"3\r\ntwo\r\n", b"0\r\n\r\n"]


async def test_respond_refuses_a_header_that_could_split_the_head() -> None:
    async def bad(scope: Any, receive: Any, send: Any) -> None:
        scope[DIRECT].respond(200, [(b"x-bad", b"a\r\nx-injected: 1")], b"")

    transport, _ = await served(bad, GET)
    assert transport.writes == [] and transport.closed


async def test_respond_to_a_client_gone_writes_nothing() -> None:
    async def late(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()  # the disconnect
        assert message["type"] == "http.disconnect"
        assert scope[DIRECT].respond(200, [(b"content-length", b"2")], b"ok") is True
        assert scope[DIRECT].piece(b"more") is True  # (nothing goes out: the client is gone)

    protocol, transport = requested(late)
    protocol.connection_lost(None)
    for _ in range(20):
        await asyncio.sleep(0)
    assert transport.writes == []


@pytest.mark.parametrize("value", [b"a\r\nx-injected: 1", b"a\nb", b"a\rb", b"a\x00b"])
async def test_a_header_value_that_could_split_the_head_is_refused(value: bytes) -> None:
    async def bad(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-bad", value), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    transport, _ = await served(bad, GET)
    assert transport.writes == [] and transport.closed


async def test_a_header_name_that_could_split_the_head_is_refused() -> None:
    async def bad(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x bad", b"1"), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    transport, _ = await served(bad, GET)
    assert transport.writes == [] and transport.closed


async def test_an_app_that_fails_before_answering_gets_a_500() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("boom")

    transport, _ = await served(broken, GET)
    assert transport.writes[0].startswith(b"HTTP/1.1 500 ")
    assert transport.writes[0].endswith(b"Internal Server Error") and transport.closed


def with_lifespan(app: App) -> App:
    """``app`` with the lifespan the proxy's server runs (started and stopped)."""
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    return wrapped


@contextlib.asynccontextmanager
async def connected(app: App, **options: Any) -> AsyncIterator[
        tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    async with serving(with_lifespan(app), **options) as port:  # type: ignore[arg-type]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            yield reader, writer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with connected(hello) as (reader, writer):
        writer.write(b"".join(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 1\r\n\r\n%d" % i
                              for i in range(5)))
        answers = [await asyncio.wait_for(read_answer(reader), 5) for _ in range(5)]
    assert [a.body for a in answers] == [b"hello %d" % i for i in range(5)]


async def test_expect_100_continue_is_answered_before_the_body_is_read() -> None:
    async with connected(hello) as (reader, writer):
        writer.write(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\n"
                     b"expect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == (
            b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(b"world")
        answer = await asyncio.wait_for(read_answer(reader), 5)
    assert answer.body == b"hello world"


async def test_head_gets_the_headers_without_the_body() -> None:
    async with connected(hello) as (reader, writer):
        writer.write(b"HEAD /x HTTP/1.1\r\nhost: t\r\n\r\n" + GET)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"content-length: 6" in head  # "hello " (its body is not sent)
        answer = await asyncio.wait_for(read_answer(reader), 5)  # the next one comes clean
    assert answer.body == b"hello "


async def test_a_stream_is_sent_chunked_over_the_wire() -> None:
    async with connected(stream) as (reader, writer):
        writer.write(GET)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"transfer-encoding: chunked" in head
        body = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5)
    assert body == b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout() -> None:
    async with connected(hello, keep_alive=0.3) as (reader, writer):
        writer.write(GET)
        assert (await asyncio.wait_for(read_answer(reader), 5)).status == 200
        writer.write(GET)  # busy again: its clock starts over after this answer
        assert (await asyncio.wait_for(read_answer(reader), 5)).status == 200
        assert await until_closed(reader, 3) == b""


async def test_a_connection_close_from_the_app_closes_after_the_answer() -> None:
    async def closing(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async with connected(closing) as (reader, writer):
        writer.write(GET)
        answer = await asyncio.wait_for(read_answer(reader), 5)
        assert answer.body == b"ok" and answer.headers["connection"] == "close"
        assert await until_closed(reader, 3) == b""
