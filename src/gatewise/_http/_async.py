"""The asyncio path: send / stream with retries over any transport (``_aiohttp``'s, the
SDK's default; ``_h1.LeanTransport``, the proxy's), and the protocols they implement.
This module mirrors ``_sync``'s functions name for name; its streams are read with
``await read_chunk()`` (``_sync``'s with ``iter_bytes()``), and ``iter_events`` gives an
:class:`Events` rather than a generator: both keep a relayed stream's reads to as few
frames as possible.  A request whose body is a one-shot iterable is never retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from gatewise._exceptions import APIConnectionError, APIError
from gatewise._http._common import ErrorFor, error_from, with_context
from gatewise._http._decode import decode_answer
from gatewise._http._models import (
    RawResponse,
    Request,
    Timeout,
    replayable,
)
from gatewise._http._propagate import CONTEXT_HEADERS, carrying
from gatewise._http._retry import RetryPolicy
from gatewise._http._secrets import NO_SECRETS, Secrets
from gatewise._http._sse import Decoder

T = TypeVar("T")


class AsyncRawStream(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read_chunk(self) -> bytes:
        """The bytes that have arrived since the last read (waiting for some); ``b""`` at
        the end of the body."""
        ...
    async def aread(self) -> bytes: ...
    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def request(self, request: Request, timeout: Timeout) -> RawResponse: ...
    async def open_stream(self, request: Request, timeout: Timeout) -> AsyncRawStream: ...
    def connections_in_use(self) -> int: ...
    async def aclose(self) -> None: ...


async def send(
    transport: AsyncTransport, request: Request, *, timeout: Timeout, policy: RetryPolicy,
    error_for: ErrorFor, provider: str, model: str, secrets: Secrets = NO_SECRETS,
    decode: Callable[[bytes, Secrets], dict[str, Any]] = decode_answer,
) -> dict[str, Any]:
    """POST and decode the JSON answer (``decode``: a success's body -> the answer),
    retrying what the policy says may be retried."""
    context = CONTEXT_HEADERS.get()
    if context:
        request = carrying(request, context)
    attempt = 0
    while True:
        try:
            response = await transport.request(request, timeout)
            if response.status < 400:
                return decode(response.content, secrets)
            error = error_from(error_for, response.status, response.content,
                               response.headers, secrets)
        except APIError as exc:
            error = exc
        delay = policy.delay(error, attempt) if replayable(request) else None
        if delay is None:
            raise with_context(error, provider, model, secrets)
        await asyncio.sleep(delay)
        attempt += 1


async def open_stream(
    transport: AsyncTransport, request: Request, *, timeout: Timeout, policy: RetryPolicy,
    error_for: ErrorFor, provider: str, model: str, secrets: Secrets = NO_SECRETS,
) -> AsyncRawStream:
    """Open a streaming response whose status is a success, retrying like :func:`send`."""
    context = CONTEXT_HEADERS.get()
    if context:
        request = carrying(request, context)
    attempt = 0
    while True:
        try:
            stream = await transport.open_stream(request, timeout)
            if stream.status < 400:
                return stream
            try:
                body = await stream.aread()
            finally:
                stream.close()
            error = error_from(error_for, stream.status, body, stream.headers, secrets)
        except APIError as exc:
            error = exc
        delay = policy.delay(error, attempt) if replayable(request) else None
        if delay is None:
            raise with_context(error, provider, model, secrets)
        await asyncio.sleep(delay)
        attempt += 1


def iter_events(
    stream: AsyncRawStream, *, provider: str, model: str, secrets: Secrets = NO_SECRETS,
    decoder: Decoder[T],
) -> Events[T]:
    """``decoder``'s items (an :class:`EventDecoder`'s: the decoded events) until
    ``[DONE]``, then its ``finish()``; a stream cut before it raises.  Always closes."""
    return Events(stream, decoder, provider, model, secrets)


class Events(Generic[T]):
    """What :func:`iter_events` gives: an async iterator with ``aclose()``.

    A class, not an async generator: its ``__anext__`` awaits the transport's read
    itself, so a read passes one frame here (no generator's ``asend`` and frame): this runs
    once per read of every relayed stream.  A relay can do better still (``push``): have
    the items handed to it as their bytes arrive, without its task waking for each.
    """

    __slots__ = ("_decoder", "_emit", "_ended", "_failure", "_items", "_model", "_next",
                 "_provider", "_secrets", "_stream")

    def __init__(self, stream: AsyncRawStream, decoder: Decoder[T], provider: str,
                 model: str, secrets: Secrets) -> None:
        self._stream = stream
        self._decoder = decoder
        self._provider = provider
        self._model = model
        self._secrets = secrets
        self._items: list[T] = []  # the last read's items, handed out from _next on
        self._next = 0
        self._ended = False
        self._emit: Callable[[T], bool] | None = None  # see push
        self._failure: Exception | None = None  # what went wrong in a push, raised next

    def __aiter__(self) -> Events[T]:
        return self

    async def __anext__(self) -> T:
        items = self._items
        if self._next < len(items):
            self._next += 1
            return items[self._next - 1]
        decoder = self._decoder
        try:
            while not self._ended:
                if self._failure is not None:
                    raise self._failure
                if decoder.error is not None:  # after the items that came before it
                    raise decoder.error
                if decoder.done:
                    self._ended = True
                    items = decoder.finish()
                else:
                    chunk = await self._stream.read_chunk()
                    if self._next < len(self._items):  # what a push could not hand out
                        items = self._items[self._next:]
                        if chunk and decoder.error is None:  # (the error comes after them)
                            items += decoder.feed(chunk)
                    elif chunk:
                        items = decoder.feed(chunk)
                    elif not (decoder.done or decoder.error is not None
                              or self._failure is not None):  # (else: a push's end)
                        raise APIConnectionError(
                            "the upstream stream ended before it was complete (no [DONE])")
                    else:
                        items = []
                if items:
                    self._items, self._next = items, 1
                    return items[0]
        except BaseException as exc:
            self._ended = True
            self._stream.close()
            if isinstance(exc, APIError):
                with_context(exc, self._provider, self._model, self._secrets)
            raise
        self._stream.close()
        raise StopAsyncIteration

    def push(self, emit: Callable[[T], bool]) -> bool:
        """From now on, while ``__anext__`` waits for the upstream, hand each item to
        ``emit`` as its bytes arrive (the transport's ``push``, if it has one: False when
        not).  ``emit`` returns False when it cannot take an item now; ``__anext__`` then
        returns it and those after it, and ends, fails or waits as it would have."""
        push = getattr(self._stream, "push", None)
        if push is None or self._ended:
            return False
        self._emit = emit
        return bool(push(self._take))

    def _take(self, chunk: bytes) -> bool:
        """An arrival, pushed (inside the transport's callback: raises nothing); False
        when ``__anext__`` has to wake: for items ``emit`` did not take, at the end of the
        events, or on a failure."""
        decoder = self._decoder
        emit = self._emit
        assert emit is not None
        try:
            items = decoder.feed(chunk)
            for index, item in enumerate(items):
                if not emit(item):
                    self._items, self._next = items, index
                    return False
        except Exception as exc:  # (a decoder's feed raises only after a bad event)
            self._failure = exc
            return False
        return decoder.error is None and not decoder.done

    async def aclose(self) -> None:
        self._ended = True
        self._items = []
        self._stream.close()


async def open_raw(transport: AsyncTransport, request: Request, *, timeout: Timeout,
                   provider: str, secrets: Secrets = NO_SECRETS) -> AsyncRawStream:
    """Open a response whatever its status, for a pass-through that relays the upstream's
    answer as it is (errors included): its status, headers and ``read_chunk()``.  Only a
    failure to talk to the upstream raises (``APIConnectionError`` / ``APITimeoutError``,
    with the request's key taken out); nothing is retried: a streamed body cannot be sent
    twice."""
    try:
        return await transport.open_stream(request, timeout)
    except APIError as exc:
        with_context(exc, provider, "", secrets)
        raise
