"""The lean transport's connections: kept alive and reused, dropped when the upstream closes
them, resent only as ``_h1._transport``'s rule says, capped per origin, closed when a
caller gives up, drained when only a stream's framing is left, paused when a stream's
reader falls behind."""

from __future__ import annotations

import asyncio

import pytest

from gatewise._exceptions import APIConnectionError, APITimeoutError
from gatewise._http import Request, Timeout
from gatewise._http._h1 import LeanTransport
from gatewise._http._h1._connection import HIGH_WATER
from tests.http._upstreams import Exchange, eventually, json_answer, silent, upstream

TIMEOUT = Timeout(read=5, connect=5)


def post(url: str, **headers: str) -> Request:
    return Request("POST", url, headers, b"{}")


async def test_an_idle_connection_the_upstream_closes_is_dropped_at_once() -> None:
    async def answer_then_close(exchange: Exchange) -> None:
        await json_answer()(exchange)
        exchange.writer.close()  # no "Connection: close": as a keep-alive timeout does

    transport = LeanTransport()
    async with upstream(answer_then_close) as up:
        await transport.request(post(up.url), TIMEOUT)
        pool = next(iter(transport._pools.values()))
        await eventually(lambda: not pool.idle and not pool.connections)
        response = await transport.request(post(up.url), TIMEOUT)  # on a new one, no error
        assert response.status == 200 and up.connections == 2
    await transport.aclose()


def _close_on_second_request() -> tuple[list[int], object]:
    """Answers each connection's first request; closes it on its second, unanswered (the
    upstream closing a kept-alive connection as the request was on its way)."""
    seen: list[int] = []

    async def answer(exchange: Exchange) -> None:
        seen.append(exchange.connection)
        if seen.count(exchange.connection) == 2:
            exchange.writer.close()
        else:
            await json_answer()(exchange)
    return seen, answer


@pytest.mark.parametrize(("method", "headers", "resent"), [
    ("POST", {}, False),  # the upstream may have acted on it: the router decides
    ("GET", {}, True),
    ("PUT", {}, True),
    ("POST", {"Idempotency-Key": "abc"}, True),
])
async def test_a_request_on_a_connection_closed_under_it_is_resent_only_when_safe(
        method: str, headers: dict[str, str], resent: bool) -> None:
    seen, answer = _close_on_second_request()
    transport = LeanTransport()
    async with upstream(answer) as up:  # type: ignore[arg-type]
        await transport.request(post(up.url), TIMEOUT)
        request = Request(method, up.url, headers, b"{}")
        if resent:
            assert (await transport.request(request, TIMEOUT)).status == 200
            assert seen == [0, 0, 1]
        else:
            with pytest.raises(APIConnectionError, match="without answering") as caught:
                await transport.request(request, TIMEOUT)
            assert seen == [0, 0] and not caught.value.unsent
        assert transport.connections_in_use() == 0
    await transport.aclose()


async def test_a_request_never_written_is_resent_whatever_its_method() -> None:
    transport = LeanTransport()
    async with upstream(json_answer()) as up:
        await transport.request(post(up.url), TIMEOUT)
        pool = next(iter(transport._pools.values()))
        idle = pool.idle[-1]
        assert idle.transport is not None
        idle.transport.close()  # closing, but its connection_lost has not run yet
        for stream in (False, True):
            request = post(up.url)
            if stream:
                answer = await transport.open_stream(request, TIMEOUT)
                assert answer.status == 200 and await answer.aread() == b'{"ok":true}'
            else:
                assert (await transport.request(request, TIMEOUT)).status == 200
        assert up.connections == 2 and len(up.requests) == 3
    await transport.aclose()


async def test_connections_per_origin_are_capped_and_waited_for() -> None:
    async def slowly(exchange: Exchange) -> None:
        await asyncio.sleep(0.1)
        await json_answer()(exchange)

    transport = LeanTransport(max_connections_per_origin=2)
    async with upstream(slowly) as up:
        answers = await asyncio.gather(*(transport.request(post(up.url), TIMEOUT)
                                         for _ in range(6)))
        assert [a.status for a in answers] == [200] * 6
        assert up.connections == 2
        assert transport.connections_in_use() == 0
    await transport.aclose()


async def test_waiting_for_a_connection_is_bounded_by_the_connect_timeout() -> None:
    transport = LeanTransport(max_connections_per_origin=1)
    async with upstream(silent) as up:
        busy = asyncio.ensure_future(transport.request(post(up.url), TIMEOUT))
        await eventually(lambda: len(up.requests) == 1)
        with pytest.raises(APITimeoutError) as caught:
            await transport.request(post(up.url), Timeout(read=5, connect=0.2))
        assert caught.value.unsent  # it never left
        busy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await busy
        assert transport.connections_in_use() == 0
    await transport.aclose()


async def test_a_caller_that_gives_up_closes_its_connection() -> None:
    transport = LeanTransport()
    async with upstream(silent) as up:
        for opening in (transport.request, transport.open_stream):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await opening(post(up.url), TIMEOUT)  # type: ignore[operator]
            assert transport.connections_in_use() == 0
        await eventually(lambda: up.closed == 2)  # the upstream sees both go
    await transport.aclose()


async def test_a_transport_serves_one_loop_after_another() -> None:
    transport = LeanTransport()
    async with upstream(json_answer()) as up:
        url = up.url

        def in_another_loop() -> int:
            async def call() -> int:
                return (await transport.request(post(url), TIMEOUT)).status
            return asyncio.run(call())

        assert await asyncio.to_thread(in_another_loop) == 200
        assert (await transport.request(post(url), TIMEOUT)).status == 200
    await transport.aclose()


EVENT = b'data: {"n":1}\n\n'
DONE = b"data: [DONE]\n\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


async def _stream_head(exchange: Exchange) -> None:
    await exchange.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                        b"transfer-encoding: chunked\r\n\r\n")


async def test_a_stream_closed_with_only_its_end_to_come_keeps_its_connection() -> None:
    async def late_end(exchange: Exchange) -> None:
        await _stream_head(exchange)
        await exchange.send(_chunk(EVENT + DONE))
        await asyncio.sleep(0.05)
        await exchange.send(b"0\r\n\r\n")

    transport = LeanTransport()
    async with upstream(late_end) as up:
        for _ in range(2):
            stream = await transport.open_stream(post(up.url), TIMEOUT)
            assert await stream.read_chunk() == EVENT + DONE
            stream.close()  # as a reader does at [DONE]
            assert transport.connections_in_use() == 0
            await eventually(lambda: len(next(iter(transport._pools.values())).idle) == 1)
        assert up.connections == 1
    await transport.aclose()


async def test_a_stream_closed_before_its_end_closes_its_connection_promptly() -> None:
    async def endless(exchange: Exchange) -> None:
        await _stream_head(exchange)
        while True:
            await exchange.send(_chunk(EVENT))
            await asyncio.sleep(0.01)

    transport = LeanTransport()
    async with upstream(endless) as up:
        stream = await transport.open_stream(post(up.url), TIMEOUT)
        assert (await stream.read_chunk()).startswith(EVENT)
        stream.close()
        assert transport.connections_in_use() == 0
        await eventually(lambda: up.closed == 1, within=2)  # the upstream can stop
    await transport.aclose()


async def test_a_reader_that_falls_behind_stops_the_socket_being_read() -> None:
    piece = b"x" * 65536
    count = 64  # 4 MB, well past what is buffered before reading pauses

    async def flood(exchange: Exchange) -> None:
        await exchange.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n"
                            % (len(piece) * count))
        for _ in range(count):
            await exchange.send(piece)

    transport = LeanTransport()
    async with upstream(flood) as up:
        stream = await transport.open_stream(post(up.url), TIMEOUT)
        await asyncio.sleep(0.3)
        assert 0 < stream._ex.size <= HIGH_WATER + 2 * 65536  # (what one read may bring)
        total = 0
        while data := await stream.read_chunk():
            total += len(data)
        assert total == len(piece) * count and up.connections == 1
    await transport.aclose()


@pytest.mark.parametrize(("hint", "expiry", "connections"), [
    (b"", 15.0, 1), (b"keep-alive: timeout=1\r\n", 15.0, 2), (b"", 0.0, 2)])
async def test_an_idle_connection_expires(hint: bytes, expiry: float, connections: int) -> None:
    transport = LeanTransport(keepalive_expiry=expiry)
    async with upstream(json_answer(extra=hint)) as up:
        for _ in range(2):
            await transport.request(post(up.url), TIMEOUT)
        assert up.connections == connections
    await transport.aclose()


async def test_a_shorter_read_timeout_than_the_last_one_holds() -> None:
    answered = 0

    async def once_then_silent(exchange: Exchange) -> None:
        nonlocal answered
        if answered:
            await silent(exchange)
        else:
            answered += 1
            await json_answer()(exchange)

    transport = LeanTransport()
    async with upstream(once_then_silent) as up:
        await transport.request(post(up.url), Timeout(read=600, connect=5))
        start = asyncio.get_running_loop().time()
        with pytest.raises(APITimeoutError):
            await transport.request(post(up.url), Timeout(read=0.2, connect=5))
        assert asyncio.get_running_loop().time() - start < 2
        assert up.connections == 1  # on the same connection, whose timer was for 600 s
    await transport.aclose()
