"""Events pushed as they arrive (``Events.push`` over the lean transport's ``push``): each
upstream read goes to the relay's ``emit`` from the connection's callback while the
reading task sleeps; the task wakes only for what ``emit`` could not take, the end, a
failure or a silence.  Against a real socket, one scripted read at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from gatewise._exceptions import APIConnectionError, APIError, APITimeoutError
from gatewise._http import Request, Timeout
from gatewise._http._async import Events, iter_events
from gatewise._http._h1 import LeanTransport
from gatewise._http._sse import EventDecoder
from tests._transports import make_transport
from tests.http._upstreams import Exchange, Upstream, eventually, upstream

HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"transfer-encoding: chunked\r\n\r\n")
END, CUT = b"end", b"cut"  # the script's last word: the chunked end, or the socket closed


FILLER = b": " + b"x" * 200 + b"\n\n"  # an SSE comment


def connection(events: Events[Any]) -> Any:
    return events._stream._conn  # type: ignore[attr-defined]


def event(n: int) -> bytes:
    return b'data: {"n":%d}\n\n' % n


class Tailed(EventDecoder):
    """Something to say at a clean end: it comes from ``__anext__``, not ``emit``."""

    def finish(self) -> list[dict[str, Any]]:
        return [{"tail": True}]


class Script:
    """An upstream stream that sends each piece the test puts, as one chunk of its own."""

    def __init__(self) -> None:
        self.pieces: asyncio.Queue[bytes] = asyncio.Queue()

    def put(self, *pieces: bytes) -> None:
        for piece in pieces:
            self.pieces.put_nowait(piece)

    async def answer(self, exchange: Exchange) -> None:
        await exchange.send(HEAD)
        while (piece := await self.pieces.get()) not in (END, CUT):
            await exchange.send(b"%x\r\n%b\r\n" % (len(piece), piece))
        if piece == CUT:
            exchange.writer.close()
        else:
            await exchange.send(b"0\r\n\r\n")


async def opened(up: Upstream, transport: Any = None, read: float = 5.0,
                 decoder: EventDecoder | None = None) -> Events[Any]:
    transport = transport or LeanTransport()
    stream = await transport.open_stream(Request("POST", up.url, {}, b"{}"),
                                         Timeout(read=read, connect=5))
    return iter_events(stream, provider="mistral", model="m", decoder=decoder or Tailed())


def taking(got: list[Any], refuse: Callable[[Any], bool] = lambda item: False
           ) -> Callable[[Any], bool]:
    def emit(item: Any) -> bool:
        if refuse(item):
            return False
        got.append(item)
        return True
    return emit


@pytest.fixture
async def script() -> AsyncIterator[tuple[Script, Upstream]]:
    script = Script()
    async with asyncio.timeout(10), upstream(script.answer) as up:  # never hangs
        yield script, up


async def past_the_first(script: tuple[Script, Upstream], read: float = 5.0
                         ) -> tuple[Script, Events[Any]]:
    """The stream opened and its first event pulled (a relay pushes from the second)."""
    source, up = script
    events = await opened(up, read=read)
    source.put(event(0))
    assert await events.__anext__() == {"n": 0}
    return source, events


def pushing(events: Events[Any]) -> tuple[list[Any], asyncio.Future[Any]]:
    """Push into a list from now on, and start the read the pushes run under."""
    got: list[Any] = []
    assert events.push(taking(got))
    return got, asyncio.ensure_future(events.__anext__())


async def test_pushed_events_reach_emit_while_the_read_sleeps_until_the_end(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script)
    got, reading = pushing(events)
    for n in range(1, 4):
        source.put(event(n))
        await eventually(lambda: len(got) == n)  # noqa: B023
    source.put(event(4) + event(5))  # two events in one read: both pushed
    await eventually(lambda: len(got) == 5)
    assert not reading.done()  # every event went to emit: the reading task slept on
    source.put(b"data: [DONE]\n\n", END)
    assert await reading == {"tail": True}  # the clean end's items come from the read
    with pytest.raises(StopAsyncIteration):
        await events.__anext__()
    assert got == [{"n": n} for n in range(1, 6)]


async def test_what_emit_refuses_comes_from_the_read_in_order_and_pushing_goes_on(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script)
    got: list[Any] = []
    events.push(taking(got, refuse=lambda item: item["n"] in (2, 4)))
    reading = asyncio.ensure_future(events.__anext__())  # (pushes go on while a read waits)
    source.put(event(1))
    await eventually(lambda: len(got) == 1)
    source.put(event(2))
    assert await reading == {"n": 2}  # refused: the read hands it out
    reading = asyncio.ensure_future(events.__anext__())
    source.put(event(3) + event(4) + event(5))
    assert await reading == {"n": 4}  # 3 pushed, 4 refused
    assert len(got) == 2
    assert await events.__anext__() == {"n": 5}  # after it in its read: not pushed again
    reading = asyncio.ensure_future(events.__anext__())  # pushing again while it waits
    source.put(event(6))
    await eventually(lambda: len(got) == 3)
    source.put(b"data: [DONE]\n\n", END)
    assert await reading == {"tail": True}
    assert [item["n"] for item in got] == [1, 3, 6]


async def test_an_upstream_that_breaks_mid_push_fails_the_read(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script)
    got, reading = pushing(events)
    source.put(event(1), CUT)
    with pytest.raises(APIConnectionError) as caught:
        await reading
    assert caught.value.provider == "mistral" and got == [{"n": 1}]


async def test_a_chunked_end_without_done_is_still_a_cut_stream(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script)
    events.push(taking([]))
    source.put(event(1), END)
    with pytest.raises(APIConnectionError, match=r"no \[DONE\]"):
        await events.__anext__()


async def test_a_bad_event_is_raised_after_the_good_ones_were_pushed(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script)
    got: list[Any] = []
    events.push(taking(got))
    source.put(event(1) + b"data: nope\n\n")
    with pytest.raises(APIError, match="not JSON"):
        await events.__anext__()
    assert got == [{"n": 1}]


async def test_what_emit_raises_is_raised_by_the_read_and_the_connection_let_go(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script)

    calls = 0

    def emit(item: Any) -> bool:
        nonlocal calls
        calls += 1
        raise RuntimeError("the client side broke")

    events.push(emit)
    source.put(event(1))
    with pytest.raises(RuntimeError, match="the client side broke"):
        await events.__anext__()
    source.put(event(2), FILLER)  # (more than a closed stream may drain)
    await eventually(lambda: connection(events).closed)
    assert calls == 1


async def test_silence_while_pushing_still_times_out_but_arrivals_keep_it_alive(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script, read=0.3)
    got, reading = pushing(events)
    for n in range(1, 7):  # 0.6 s of events, 0.1 s apart: longer than the timeout
        await asyncio.sleep(0.1)
        source.put(event(n))
    await eventually(lambda: len(got) == 6)
    assert not reading.done()
    with pytest.raises(APITimeoutError):  # then 0.3 s of silence
        await reading


async def test_a_read_cancelled_while_pushing_stops_the_pushes(
        script: tuple[Script, Upstream]) -> None:
    source, events = await past_the_first(script)
    got, reading = pushing(events)
    source.put(event(1))
    await eventually(lambda: len(got) == 1)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    source.put(event(2), FILLER)  # event 2 is not pushed; the filler closes the connection
    await eventually(lambda: connection(events).closed)
    assert got == [{"n": 1}]


async def test_a_transport_that_cannot_push_says_so_and_its_events_are_read() -> None:
    script = Script()
    async with asyncio.timeout(10), upstream(script.answer) as up:
        transport = make_transport("aiohttp")
        try:
            events = await opened(up, transport)
            script.put(event(0), event(1), b"data: [DONE]\n\n", END)
            assert await events.__anext__() == {"n": 0}
            assert not events.push(taking([]))
            assert [item async for item in events] == [{"n": 1}, {"tail": True}]
        finally:
            await transport.aclose()
