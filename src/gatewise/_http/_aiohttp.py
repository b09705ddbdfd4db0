"""The aiohttp transport: pooled keep-alive connections through one ``aiohttp.ClientSession``
per event loop, the SDK's async default (and the proxy's with ``upstream_transport:
aiohttp``).

aiohttp, not httpx, because its pooled session holds up under concurrency (see DESIGN.md's
measurements).  A module of its own so that nothing imports aiohttp until this transport
is made: the proxy's default, ``_h1.LeanTransport``, needs none of it.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import Mapping

import aiohttp

from gatewise._exceptions import APIConnectionError, APIError
from gatewise._http._async import AsyncRawStream
from gatewise._http._errors import mapped as _mapped
from gatewise._http._models import RawResponse, Request, SslVerify, Timeout, all_headers
from gatewise._http._tls import client_context, why_untrusted

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
