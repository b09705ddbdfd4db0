"""``_async.iter_events``: a stream's items read by read, its end, its errors, its closing."""

from __future__ import annotations

import asyncio

import pytest

from gatewise._exceptions import APIConnectionError, APIError
from gatewise._http._async import iter_events
from gatewise._http._secrets import Secrets
from gatewise._http._sse import EventDecoder

SECRET = "sk-secret-key"


class Upstream:
    """A raw stream whose reads are scripted: bytes, an exception to raise, or a wait."""

    status = 200
    headers: dict[str, str] = {}

    def __init__(self, *reads: bytes | BaseException | asyncio.Event) -> None:
        self.reads = list(reads)
        self.closed = 0

    async def read_chunk(self) -> bytes:
        if not self.reads:
            return b""
        read = self.reads.pop(0)
        if isinstance(read, asyncio.Event):
            await read.wait()
            return b""
        if isinstance(read, BaseException):
            raise read
        return read

    async def aread(self) -> bytes:
        return b""

    def close(self) -> None:
        self.closed += 1


class Tailed(EventDecoder):
    """An ``EventDecoder`` with something to say at a clean end."""

    def finish(self) -> list[dict[str, object]]:
        return [{"tail": True}]


def events(upstream: Upstream, decoder: EventDecoder | None = None):  # type: ignore[no-untyped-def]
    return iter_events(upstream, provider="mistral", model="m", secrets=Secrets([SECRET]),
                       decoder=decoder or EventDecoder())


async def test_a_reads_events_come_in_order_then_the_finish_items_then_the_end() -> None:
    upstream = Upstream(b'data: {"n":1}\n\ndata: {"n":2}\n\n', b'data: {"n":3}\n\ndata: [DO',
                        b"NE]\n\n", b"never read")
    got = [e async for e in events(upstream, Tailed())]
    assert got == [{"n": 1}, {"n": 2}, {"n": 3}, {"tail": True}]
    assert upstream.closed >= 1 and upstream.reads == [b"never read"]


async def test_a_bad_event_is_raised_after_the_good_ones_of_its_read() -> None:
    upstream = Upstream(b'data: {"n":1}\n\ndata: nope\n\n', b"never read")
    stream = events(upstream)
    assert await stream.__anext__() == {"n": 1}
    with pytest.raises(APIError, match="not JSON") as caught:
        await stream.__anext__()
    assert caught.value.provider == "mistral" and caught.value.model == "m"
    assert upstream.closed >= 1 and upstream.reads == [b"never read"]


async def test_a_body_that_ends_before_done_raises_with_the_calls_context() -> None:
    upstream = Upstream(b'data: {"n":1}\n\n')
    stream = events(upstream)
    assert await stream.__anext__() == {"n": 1}
    with pytest.raises(APIConnectionError, match=r"no \[DONE\]") as caught:
        await stream.__anext__()
    assert (caught.value.provider, caught.value.model) == ("mistral", "m")
    assert upstream.closed >= 1
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_a_read_error_gets_the_calls_context_and_loses_the_key() -> None:
    upstream = Upstream(APIConnectionError(f"broke while sending {SECRET}"))
    with pytest.raises(APIConnectionError) as caught:
        await events(upstream).__anext__()
    assert SECRET not in str(caught.value) and caught.value.provider == "mistral"
    assert upstream.closed >= 1


async def test_aclose_closes_the_upstream_and_ends_the_items() -> None:
    upstream = Upstream(b'data: {"n":1}\n\ndata: {"n":2}\n\n')
    stream = events(upstream)
    assert await stream.__anext__() == {"n": 1}
    await stream.aclose()
    assert upstream.closed >= 1
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_a_read_cancelled_while_waiting_closes_the_upstream() -> None:
    upstream = Upstream(asyncio.Event())
    reading = asyncio.ensure_future(events(upstream).__anext__())
    await asyncio.sleep(0)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert upstream.closed >= 1
