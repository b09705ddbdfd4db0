"""Misbehaving clients against the real proxy (the CLI in a subprocess), over raw sockets.

A slow body is served while it keeps coming and refused with a 408 once it stalls for
``general_settings.client_timeout``; so is a head that trickles in; a client that never
reads its stream holds up nobody else; hundreds of idle keep-alive connections do not stop
a request; an oversized body (413) or head (431) is refused in OpenAI's error shape before
it is read, and the server carries on.  A client that disconnects mid-stream cancels the
upstream request: see ``test_e2e.test_client_disconnect_cancels_the_upstream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import orjson
import pytest

from gatewise.proxy.config import ConfigError, parse_config
from tests.fake_mistral import FakeMistral
from tests.proxy._checks import assert_nothing_in_flight, openai_error
from tests.proxy._inprocess import post_head, read_answer, serving, until_closed
from tests.proxy._server import Proxy, run_proxy_with
from tests.proxy.conftest import HELLO, make_app

CLIENT_TIMEOUT = 0.5  # general_settings.client_timeout of the proxy under test
BODY_TIMEOUT = 3.0  # general_settings.request_body_timeout of the proxy under test
CHAT = "/v1/chat/completions"
DEMO = orjson.dumps({"model": "demo", "messages": HELLO})
BIG_STREAM = "word " * 100_000  # ~15 MB of SSE: more than the socket buffers can hold
RCVBUF = 4096
"""The never-reading client's receive buffer, set before it connects: no autotuning up to
``tcp_rmem``'s megabytes, so what the stream can park in buffers is the proxy's send buffer
(``tcp_wmem``'s 4 MB at most) and a few hundred kB, far below the stream."""


@pytest.fixture(scope="module")
def proxy(_fake_server: FakeMistral, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proxy]:
    workdir = tmp_path_factory.mktemp("clients")
    mock = {"model": "mistral/mistral-small-latest", "mock_response": "hi"}
    config = {
        "model_list": [
            {"model_name": "small", "litellm_params": {
                "model": "mistral/mistral-small-latest", "api_key": "test-key",
                "api_base": _fake_server.base_url, "max_retries": 0}},
            {"model_name": "demo", "params": mock},
            {"model_name": "big", "params": {**mock, "mock_response": BIG_STREAM}},
        ],
        "general_settings": {"client_timeout": CLIENT_TIMEOUT,
                             "request_body_timeout": BODY_TIMEOUT},
    }
    with run_proxy_with(config, workdir) as server:
        yield server


@pytest.fixture
def clients(proxy: Proxy, fake_mistral: FakeMistral) -> Iterator[Proxy]:
    yield proxy
    assert_nothing_in_flight(proxy)
    assert httpx.get(proxy.url + "/health/liveliness").status_code == 200


@contextlib.asynccontextmanager
async def connection(proxy: Proxy, rcvbuf: int | None = None
                     ) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``rcvbuf``: the socket's SO_RCVBUF, set before it connects (the window is agreed on
    then), which also turns off the kernel's autotuning of it."""
    if rcvbuf is None:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", proxy.port))
        except BaseException:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def demo_is_served(proxy: Proxy, within: float = 2.0) -> None:
    start = time.monotonic()
    async with httpx.AsyncClient(timeout=5) as client:
        answer = await client.post(proxy.url + CHAT, content=DEMO)
    assert answer.status_code == 200
    assert time.monotonic() - start < within


async def refused_with(proxy: Proxy, request: bytes, status: int, code: str) -> None:
    """``request`` gets ``status`` with an OpenAI error of ``code``, then the connection
    closes, and the proxy goes on serving others."""
    async with connection(proxy) as (reader, writer):
        writer.write(request)
        with contextlib.suppress(ConnectionError):  # it may hang up before it has read all
            await writer.drain()
        answer = await asyncio.wait_for(read_answer(reader), 5)
        assert await until_closed(reader, 2) == b""
    assert answer.status == status
    assert openai_error(answer.body)["code"] == code
    await demo_is_served(proxy)


# -- a slow body, a slow head ------------------------------------------------------------------

async def test_a_body_trickled_over_a_second_is_served(clients: Proxy) -> None:
    async with connection(clients) as (reader, writer):
        writer.write(post_head(CHAT, len(DEMO)))
        start = time.monotonic()
        pieces = [DEMO[i:i + len(DEMO) // 10 + 1] for i in range(0, len(DEMO), len(DEMO) // 10 + 1)]
        for piece in pieces:
            await asyncio.sleep(1.0 / len(pieces))  # each gap well under the client timeout
            writer.write(piece)
            await writer.drain()
        answer = await read_answer(reader)
    assert time.monotonic() - start > 0.9
    assert answer.status == 200
    assert answer.json()["choices"][0]["message"]["content"] == "hi"


@pytest.mark.parametrize("sent", [0, 10], ids=["no-body", "part-of-the-body"])
async def test_a_stalled_body_gets_408_and_the_connection_closes(clients: Proxy,
                                                                 sent: int) -> None:
    async with connection(clients) as (reader, writer):
        writer.write(post_head(CHAT, len(DEMO)) + DEMO[:sent])
        start = time.monotonic()
        answer = await asyncio.wait_for(read_answer(reader), 5)
        took = time.monotonic() - start
        assert await until_closed(reader, 2) == b""
    assert answer.status == 408
    assert openai_error(answer.body)["code"] == "request_timeout"
    assert CLIENT_TIMEOUT * 0.8 < took < CLIENT_TIMEOUT + 1.5
    await demo_is_served(clients)


async def test_a_body_that_never_ends_gets_408_and_the_connection_closes(clients: Proxy
                                                                       ) -> None:
    """A chunked body trickling a byte at a time, each well within ``client_timeout`` of the
    last, is cut off once the whole body has taken ``request_body_timeout``."""
    async with connection(clients) as (reader, writer):
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: proxy\r\n"
                     b"content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        answer_task = asyncio.ensure_future(read_answer(reader))
        give_up = time.monotonic() + BODY_TIMEOUT * 5
        while not answer_task.done() and time.monotonic() < give_up:
            with contextlib.suppress(ConnectionError):
                writer.write(b"1\r\n \r\n")  # one byte of whitespace: valid JSON so far
                await writer.drain()
            await asyncio.wait([answer_task], timeout=CLIENT_TIMEOUT / 5)
        assert answer_task.done(), "the proxy kept reading a body that never ends"
        answer = answer_task.result()
        assert await until_closed(reader, 2) == b""
    assert answer.status == 408
    error = openai_error(answer.body)
    assert error["code"] == "request_timeout"
    assert "general_settings.request_body_timeout" in error["message"]
    await demo_is_served(clients)


async def test_a_stalled_head_gets_408_and_the_connection_closes(clients: Proxy) -> None:
    async with connection(clients) as (reader, writer):
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: proxy\r\ncontent-le")
        start = time.monotonic()
        answer = await asyncio.wait_for(read_answer(reader), 5)
        took = time.monotonic() - start
        assert await until_closed(reader, 2) == b""
    assert answer.status == 408
    assert openai_error(answer.body)["code"] == "request_timeout"
    assert took < CLIENT_TIMEOUT + 1.5


async def test_a_connection_that_never_sends_is_closed() -> None:
    """uvicorn arms its keep-alive timeout only after a response; the proxy's protocol arms
    it on a new connection too (here 0.3 s instead of uvicorn's 5)."""
    app = make_app({"model_list": [{"model_name": "demo", "params": {
        "model": "mistral/mistral-small-latest", "mock_response": "hi"}}]})
    async with serving(app, keep_alive=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()
        assert await until_closed(reader, 3) == b""
        assert time.monotonic() - start < 2
        writer.close()
    await app.state.aclose()


# -- clients that do not read, or just sit there -----------------------------------------------

async def test_a_client_that_never_reads_holds_up_nobody(clients: Proxy,
                                                         fake_mistral: FakeMistral) -> None:
    """The proxy waits for it without blocking anyone, then (``client_timeout`` without
    taking an event) drops its stream and hangs up: it holds no upstream call forever."""
    body = orjson.dumps({"model": "big", "messages": HELLO, "stream": True})
    async with connection(clients, RCVBUF) as (reader, writer):
        writer.write(post_head(CHAT, len(body)) + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.2)  # the proxy fills the socket buffers, then waits
        await demo_is_served(clients)
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.post(clients.url + CHAT, json={
                "model": "small", "messages": HELLO, "stream": True})
        assert answer.text.endswith("data: [DONE]\n\n")
        assert fake_mistral.requests  # the upstream was called meanwhile

        await asyncio.to_thread(assert_nothing_in_flight, clients, CLIENT_TIMEOUT * 2 + 2)
        received = await until_closed(reader, 5)  # what was buffered, then the hang-up
        assert received is not None and b"data: [DONE]" not in received
    assert "has read nothing for 0.5 s" in clients.output()


async def test_200_idle_keep_alive_connections_do_not_stop_a_request(clients: Proxy) -> None:
    idle: list[asyncio.StreamWriter] = []
    try:
        for n in range(200):
            reader, writer = await asyncio.open_connection("127.0.0.1", clients.port)
            idle.append(writer)
            if n % 2:  # half have had a request and are kept alive; half never sent one
                writer.write(post_head(CHAT, len(DEMO)) + DEMO)
                assert (await read_answer(reader)).status == 200
        await demo_is_served(clients)
    finally:
        for writer in idle:
            writer.close()


# -- too big ------------------------------------------------------------------------------------

async def test_a_body_over_the_limit_is_refused_before_it_is_sent(clients: Proxy) -> None:
    """413 from the declared length, without reading the body (the e2e test sends one)."""
    await refused_with(clients, post_head(CHAT, 20 * 1024 * 1024), 413, "request_too_large")


@pytest.mark.parametrize("headers", [
    [b"x-big: " + b"a" * 100_000],
    [b"x-many-%d: %s" % (n, b"b" * 90) for n in range(1000)],
    [b"x-huge: " + b"c" * 5_000_000],
], ids=["one-100kb-header", "1000-headers", "5mb-header"])
async def test_headers_over_the_limit_get_431_and_the_server_carries_on(
        clients: Proxy, headers: list[bytes]) -> None:
    await refused_with(clients, post_head(CHAT, len(DEMO), *headers) + DEMO, 431,
                       "request_header_fields_too_large")


@pytest.mark.parametrize("request_bytes", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\nbad header line\r\n\r\n",
    b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 9\r\n\r\n",
], ids=["garbage", "bad-header", "two-lengths"])
async def test_a_request_that_is_not_http_gets_an_openai_400(clients: Proxy,
                                                            request_bytes: bytes) -> None:
    await refused_with(clients, request_bytes, 400, "invalid_http_request")


async def test_headers_just_under_the_limit_are_fine(clients: Proxy) -> None:
    async with connection(clients) as (reader, writer):
        writer.write(post_head(CHAT, len(DEMO), b"x-big: " + b"a" * 60_000) + DEMO)
        answer = await asyncio.wait_for(read_answer(reader), 5)
    assert answer.status == 200


def test_the_limits_are_configurable_and_checked() -> None:
    entry = {"model_name": "m", "params": {"model": "mistral/mistral-small-latest",
                                           "mock_response": "x"}}
    config = parse_config({"model_list": [entry], "general_settings": {
        "client_timeout": 2, "max_request_header_bytes": 8192,
        "graceful_shutdown_timeout": 3, "request_body_timeout": 20}}, "c.yaml", environ={})
    assert (config.client_timeout, config.max_request_header_bytes,
            config.graceful_shutdown_timeout, config.request_body_timeout) == (
        2.0, 8192, 3.0, 20.0)
    defaults = parse_config({"model_list": [entry]}, "c.yaml", environ={})
    assert (defaults.client_timeout, defaults.max_request_header_bytes,
            defaults.graceful_shutdown_timeout, defaults.request_body_timeout) == (
        30.0, 65536, 10.0, 60.0)
    with pytest.raises(ConfigError) as info:
        parse_config({"model_list": [entry], "general_settings": {
            "client_timeout": 0, "max_request_header_bytes": 10,
            "graceful_shutdown_timeout": "soon"}}, "c.yaml", environ={})
    assert info.value.problems == [
        "c.yaml: general_settings.max_request_header_bytes: must be a whole number >= 1024, "
        "got 10",
        "c.yaml: general_settings.client_timeout: must be a number of seconds > 0",
        "c.yaml: general_settings.graceful_shutdown_timeout: must be a number, got a string"]
