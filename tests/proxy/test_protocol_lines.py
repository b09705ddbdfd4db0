"""``Direct.respond_lines``: an answer whose header lines the app wrote itself goes out in
one write with the server's defaults and the body's length, ends the exchange as
``respond`` does, closes a connection that is to end, and is refused (a 500, nothing of
it written) when its lines could split the head."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gatewise.proxy._asgi import DIRECT
from tests.proxy._inprocess import read_answer, until_closed
from tests.proxy.test_protocol import GET, connected, served

HEAD = b"HEAD /x HTTP/1.1\r\nhost: t\r\n\r\n"
CLOSE = b"GET /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"


def answering(lines: bytes, said: list[bool]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        said.append(scope[DIRECT].respond_lines(200, lines, b"made"))
    return app


async def test_an_answer_with_its_own_lines_is_one_write_with_defaults_and_length() -> None:
    said: list[bool] = []
    transport, state = await served(answering(b"x-one: 1\r\ncontent-type: text/plain\r\n",
                                              said), GET, GET)
    assert said == [True, True] and len(transport.writes) == 2
    assert transport.writes[0] == (b"HTTP/1.1 200 OK\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
                                   b"x-one: 1\r\ncontent-type: text/plain\r\n"
                                   b"content-length: 4\r\n\r\nmade")
    assert state.total_requests == 2


async def test_a_connection_that_is_to_end_says_so_and_closes() -> None:
    async with connected(answering(b"x-one: 1\r\n", [])) as (reader, writer):
        writer.write(CLOSE)
        answer = await asyncio.wait_for(read_answer(reader), 5)
        assert answer.body == b"made" and answer.headers["connection"] == "close"
        assert await until_closed(reader, 3) == b""


async def test_head_gets_the_length_without_the_body() -> None:
    transport, _ = await served(answering(b"x-one: 1\r\n", []), HEAD)
    assert transport.writes[0].endswith(b"content-length: 4\r\n\r\n")


async def test_a_second_answer_is_refused_as_respond_refuses_it() -> None:
    errors: list[str] = []

    async def twice(scope: Any, receive: Any, send: Any) -> None:
        scope[DIRECT].respond_lines(200, b"x-one: 1\r\n", b"ok")
        try:
            scope[DIRECT].respond_lines(200, b"x-one: 1\r\n", b"ok")
        except RuntimeError as exc:
            errors.append(str(exc))

    transport, _ = await served(twice, GET)
    assert len(transport.writes) == 1 and "already started" in errors[0]


@pytest.mark.parametrize("lines", [b"x-bad: a\nx-injected: 1\r\n", b"x-bad: a\rb\r\n",
                                   b"x-bad: a\x00b\r\n", b"x-bad: no end",
                                   b"x-bad: a\r\n\r\nx-injected: 1\r\n",
                                   b"\r\nx-bad: after an empty line\r\n"])
async def test_lines_that_could_split_the_head_are_refused(lines: bytes) -> None:
    transport, _ = await served(answering(lines, []), GET)
    assert len(transport.writes) == 1  # the server's own 500, none of the app's lines
    assert transport.writes[0].startswith(b"HTTP/1.1 500 ") and b"x-bad" not in (
        transport.writes[0])
