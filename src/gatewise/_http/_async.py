"""The asyncio path: an aiohttp transport, and send / stream with retries over any transport.

aiohttp, not httpx, because its pooled session holds up under concurrency (see DESIGN.md's
measurements); the proxy uses the leaner ``_h1.LeanTransport`` behind the same protocols.
This module mirrors ``_sync``'s functions name for name; its streams are read with
``await read_chunk()`` (``_sync``'s with ``iter_bytes()``), and ``iter_events`` gives an
:class:`Events` rather than a generator: both keep a relayed stream's reads to as few
frames as possible.  A request whose body is a one-shot iterable is never retried.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import aiohttp

from gatewise._exceptions import APIConnectionError, APIError
from gatewise._http._common import ErrorFor, error_from, with_context
from gatewise._http._decode import decode_answer
from gatewise._http._errors import mapped as _mapped
from gatewise._http._models import (
    RawResponse,
    Request,
    SslVerify,
    Timeout,
    all_headers,
    replayable,
)
from gatewise._http._propagate import CONTEXT_HEADERS
from gatewise._http._retry import RetryPolicy
from gatewise._http._secrets import NO_SECRETS, Secrets
from gatewise._http._sse import Decoder
from gatewise._http._tls import client_context, why_untrusted

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


# The error a silent stream fails with: aiohttp's own for it where it has one.
_SILENCE: type[Exception] = getattr(aiohttp, "SocketTimeoutError", aiohttp.ServerTimeoutError)
# What aiohttp raises when no connection could be opened (its connect timeout has its own
# class from 3.10 on; before, it cannot be told apart from a read timeout).
_UNOPENED: tuple[type[Exception], ...] = (aiohttp.ClientConnectorError, *(
    (aiohttp.ConnectionTimeoutError,) if hasattr(aiohttp, "ConnectionTimeoutError") else ()))


def _failure(exc: aiohttp.ClientError | TimeoutError) -> APIError:
    """A failed request's error: ``unsent`` when no connection could be opened."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error = APIConnectionError("could not talk to the upstream: " + why_untrusted(
            exc.certificate_error, exc.host))  # type: ignore[arg-type]
        error.unsent = True
        return error
    return _mapped(exc, unsent=isinstance(exc, _UNOPENED))


def _check_idle(stream: weakref.ref[_AiohttpStream]) -> None:
    # The timer holds the stream weakly: one dropped unclosed is not kept alive by it.
    alive = stream()
    if alive is not None:
        alive._check()


class _AiohttpStream:
    """A streaming response.  Its read timeout (the longest silence while a read waits) is
    kept with one timer a stream, checked when it fires: aiohttp's own ``sock_read`` would
    cancel and re-arm a timer at every arrival, the costliest step of a relayed read.
    aiohttp's still covers the wait for the response head."""

    __slots__ = ("__weakref__", "_content", "_idle", "_last", "_loop", "_response", "_seen",
                 "_timer", "_waiting", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse, idle: float | None,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._response = response
        self._content = response.content
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers
        self._loop = loop
        self._idle = idle
        self._waiting = False
        self._last = loop.time()  # when the last read returned
        self._seen = response.content.total_bytes  # the bytes the upstream had sent then
        self._timer: asyncio.TimerHandle | None = None
        connection = response.connection
        # An error's body is read whole (aread), under aiohttp's own timeout.
        if (idle and response.status < 400 and connection is not None
                and connection.protocol is not None
                and isinstance(getattr(type(connection.protocol), "read_timeout", None),
                               property)):
            connection.protocol.read_timeout = None  # from here on, ours
            self._timer = loop.call_at(self._last + idle, _check_idle, weakref.ref(self))

    def _check(self) -> None:
        assert self._idle is not None
        now = self._loop.time()
        if self._content.total_bytes != self._seen:  # bytes came that no read took yet
            self._last, self._seen = now, self._content.total_bytes
        due = self._last + self._idle
        if self._waiting and now >= due:
            self._timer = None
            self._content.set_exception(_SILENCE(
                f"no data from the upstream for {self._idle:g} s"))
        elif not self._content.is_eof():
            self._timer = self._loop.call_at(due if due > now else now + self._idle / 8,
                                             _check_idle, weakref.ref(self))

    async def read_chunk(self) -> bytes:
        self._waiting = True
        try:
            chunk = await self._content.readany()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _mapped(exc, mid_stream=True) from exc
        finally:
            self._waiting = False
        self._last, self._seen = self._loop.time(), self._content.total_bytes
        return chunk

    async def aread(self) -> bytes:
        try:
            return await self._response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _mapped(exc) from exc

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._response.close()


class AiohttpTransport:
    """Pooled keep-alive connections through one ``aiohttp.ClientSession`` per event loop.

    The session is made on first use inside the running loop; if the caller later runs a
    new loop (``asyncio.run`` twice), a new session is made for it.
    """

    def __init__(self, *, max_connections: int = 1000) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._contexts: dict[str, ssl.SSLContext] = {}

    def _client_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is None or session.closed or self._loop is not loop:
            if session is not None and self._loop is not None and self._loop.is_closed():
                session.detach()  # its loop is gone: nothing left to close asynchronously
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
            self._session, self._loop = session, loop
        return session

    def _timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        cached = self._timeouts.get(timeout)
        if cached is None:
            cached = aiohttp.ClientTimeout(total=None, sock_connect=timeout.connect,
                                           sock_read=timeout.read)
            if len(self._timeouts) < 64:
                self._timeouts[timeout] = cached
        return cached

    def _ssl(self, verify: SslVerify) -> bool | ssl.SSLContext:
        """aiohttp's ``ssl`` argument for ``verify`` (True: its default context)."""
        if isinstance(verify, bool):
            return verify
        context = self._contexts.get(verify)
        if context is None:
            try:
                context = self._contexts[verify] = client_context(verify)
            except (OSError, TypeError) as exc:
                error = APIConnectionError(f"could not talk to the upstream: {exc}")
                error.unsent = True
                raise error from exc
        return context

    async def request(self, request: Request, timeout: Timeout) -> RawResponse:
        session = self._client_session()
        try:
            async with session.request(
                request.method, request.url, data=request.content,
                headers=all_headers(request),
                timeout=self._timeout(timeout), allow_redirects=False,
                ssl=self._ssl(request.ssl_verify),
            ) as response:
                content = await response.read()
                return RawResponse(response.status, response.headers, content)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _failure(exc) from exc

    async def open_stream(self, request: Request, timeout: Timeout) -> AsyncRawStream:
        session = self._client_session()
        try:
            response = await session.request(
                request.method, request.url, data=request.content,
                headers=all_headers(request),
                timeout=self._timeout(timeout), allow_redirects=False,
                ssl=self._ssl(request.ssl_verify),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _failure(exc) from exc
        return _AiohttpStream(response, timeout.read, self._loop or asyncio.get_running_loop())

    def connections_in_use(self) -> int:
        """Pooled connections currently serving a request (0 when all is released)."""
        connector = self._session.connector if self._session is not None else None
        return len(getattr(connector, "_acquired", ()))  # aiohttp keeps no public count

    async def aclose(self) -> None:
        session = self._session
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()
        self._session = None


async def send(
    transport: AsyncTransport, request: Request, *, timeout: Timeout, policy: RetryPolicy,
    error_for: ErrorFor, provider: str, model: str, secrets: Secrets = NO_SECRETS,
    decode: Callable[[bytes, Secrets], dict[str, Any]] = decode_answer,
) -> dict[str, Any]:
    """POST and decode the JSON answer (``decode``: a success's body -> the answer),
    retrying what the policy says may be retried."""
    context = CONTEXT_HEADERS.get()
    if context:
        request = request._replace(context_headers=context)
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
        request = request._replace(context_headers=context)
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
    once per read of every relayed stream.
    """

    __slots__ = ("_decoder", "_ended", "_items", "_model", "_next", "_provider", "_secrets",
                 "_stream")

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
                if decoder.error is not None:  # after the items that came before it
                    raise decoder.error
                if decoder.done:
                    self._ended = True
                    items = decoder.finish()
                else:
                    chunk = await self._stream.read_chunk()
                    if not chunk:
                        raise APIConnectionError(
                            "the upstream stream ended before it was complete (no [DONE])")
                    items = decoder.feed(chunk)
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
