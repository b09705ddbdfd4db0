"""``LeanTransport``: the asyncio ``AsyncTransport`` of this package.

Pools by origin and TLS settings (``_pool``), made in the running loop on first use and
made again if a later call runs in another loop.  Errors leave as aiohttp's do
(``_errors.mapped``); those raised before any connection could be opened are ``unsent``.

**Resending on a kept-alive connection.**  An upstream may close an idle connection just as
a request is written to it.  The request is then sent once more, on a new connection, when
all of these hold:

1. the connection had answered before (a new connection's failure is a real one);
2. it failed by being closed or reset (not a timeout, not a malformed answer), before a
   single byte of the answer arrived;
3. the request can be sent again: its body is bytes (or none), or a streamed body of which
   nothing was read yet;
4. the upstream cannot have acted on it: nothing of it was written (the connection was
   found closed first), or its method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT,
   DELETE), or it carries an ``Idempotency-Key`` header.

So a chat completion (a POST) written to a connection the upstream had just closed fails
with ``APIConnectionError``, as with aiohttp: the upstream may have started on it, and only
the router, which knows the deployment, decides whether to try again.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING

from gatewise._exceptions import APIConnectionError, APIError
from gatewise._http._errors import mapped
from gatewise._http._h1._connection import Connection
from gatewise._http._h1._exchange import Exchange
from gatewise._http._h1._pool import Pool
from gatewise._http._h1._stream import LeanStream
from gatewise._http._h1._upload import upload
from gatewise._http._h1._wire import (
    CACHED_LENGTH,
    IDEMPOTENT,
    Headers,
    Origin,
    Route,
    encode_head,
    is_chunked,
    route_of,
)
from gatewise._http._models import RawResponse, Request, SslVerify, Timeout, all_headers
from gatewise._http._tls import client_context, why_untrusted

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Mapping

_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "DELETE"})
_ROUTES = 1024  # URLs remembered (the proxy calls a few, again and again)
_HEADS = 256  # request heads remembered


class LeanTransport:
    """HTTP/1.1 over asyncio, httptools and ``ssl``, for the proxy's hot path.

    ``max_connections_per_origin`` caps the connections open to one origin (a request
    beyond them waits, within its connect timeout, for one to come back);
    ``keepalive_expiry`` is how long an idle connection is kept.
    """

    def __init__(self, *, max_connections_per_origin: int = 1000,
                 keepalive_expiry: float = 15.0) -> None:
        if max_connections_per_origin < 1:
            raise ValueError("max_connections_per_origin must be at least 1")
        self._limit = max_connections_per_origin
        self._expiry = keepalive_expiry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pools: dict[tuple[Origin, SslVerify], Pool] = {}
        self._routes: dict[tuple[str, SslVerify], tuple[Pool, Route]] = {}
        self._contexts: dict[SslVerify, ssl.SSLContext] = {}
        self._heads: dict[tuple[object, ...], tuple[bytes, frozenset[str]]] = {}

    # -- where a request goes -------------------------------------------------------------

    def _route(self, request: Request) -> tuple[Pool, Route]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._forget_pools()
            self._loop = loop
        found = self._routes.get((request.url, request.ssl_verify))
        return found if found is not None else self._new_route(request)

    def _new_route(self, request: Request) -> tuple[Pool, Route]:
        try:
            route = route_of(request.url)
            https = route.origin.scheme == "https"
            verify = request.ssl_verify if https else True
            pool = self._pools.get((route.origin, verify))
            if pool is None:
                context = self._context(verify) if https else None
                pool = Pool(route.origin, context, limit=self._limit,
                            keepalive_expiry=self._expiry)
                self._pools[route.origin, verify] = pool
        except (ValueError, TypeError, OSError) as exc:  # a bad URL or CA bundle
            raise _unsent(APIConnectionError(f"could not talk to the upstream: {exc}")
                          ) from exc
        if len(self._routes) >= _ROUTES:
            self._routes.clear()
        found = self._routes[request.url, request.ssl_verify] = (pool, route)
        return found

    def _context(self, verify: SslVerify) -> ssl.SSLContext:
        context = self._contexts.get(verify)
        if context is None:
            context = self._contexts[verify] = client_context(verify)
        return context

    # -- the two calls ----------------------------------------------------------------------

    async def request(self, request: Request, timeout: Timeout) -> RawResponse:
        pool, route = self._route(request)
        head, body = self._encoded(request, route)
        for fresh in (False, True):
            conn = None if fresh else pool.take()
            if conn is None:
                conn = await _acquire(pool, timeout, fresh)
            ex = conn.begin(timeout.read, False, request.method == "HEAD")
            if body is None:
                conn.send(ex, head)
            else:
                await _upload(conn, ex, head, body)
            if not ex.complete and ex.error is None:
                waiter = conn.wait(ex)
                try:
                    await waiter
                except BaseException:  # cancelled (the caller's deadline): never half-kept
                    if conn.ex is ex:
                        conn.close()
                    raise
            if ex.error is None:
                chunks = ex.chunks
                return RawResponse(ex.status, Headers(ex.head),
                                   chunks[0] if len(chunks) == 1 else b"".join(chunks))
            if conn.ex is ex:  # (a failed exchange's connection is never kept)
                conn.close()
            if fresh or not _may_resend(request, conn, ex):
                raise mapped(ex.error) from ex.error
        raise AssertionError("unreachable")

    async def open_stream(self, request: Request, timeout: Timeout) -> LeanStream:
        pool, route = self._route(request)
        head, body = self._encoded(request, route)
        for fresh in (False, True):
            conn = None if fresh else pool.take()
            if conn is None:
                conn = await _acquire(pool, timeout, fresh)
            ex = conn.begin(timeout.read, True, request.method == "HEAD")
            if body is None:
                conn.send(ex, head)
            else:
                await _upload(conn, ex, head, body)
            if not ex.head_done and ex.error is None:
                waiter = conn.wait(ex)
                try:
                    await waiter
                except BaseException:
                    if conn.ex is ex:
                        conn.close()
                    raise
            if ex.head_done:  # (an error after the head is the stream's to raise)
                return LeanStream(conn, ex)
            assert ex.error is not None
            if conn.ex is ex:  # (a failed exchange's connection is never kept)
                conn.close()
            if fresh or not _may_resend(request, conn, ex):
                raise mapped(ex.error) from ex.error
        raise AssertionError("unreachable")

    def _encoded(self, request: Request, route: Route
                 ) -> tuple[bytes, AsyncIterable[bytes] | None]:
        """The bytes to write (head and body), and the body still to stream, if any.

        A head without its length is kept by what makes it (the proxy sends the same few
        again and again): the same method, URL and headers give the same bytes.  A
        request's ``context_headers`` (a trace's, different for each call) follow the kept
        head; one with a streamed body, whose head is whole, is made for it alone."""
        content = request.content
        streamed = content is not None and not isinstance(content, bytes)
        extra = request.context_headers
        key = (request.method, route.target, route.host_line, streamed,
               tuple(request.headers.items()))
        kept = self._heads.get(key)
        if kept is None:
            head = _head(request.method, route, request.headers,
                         None if streamed else CACHED_LENGTH)
            kept = (head, frozenset(name.lower() for name in request.headers))
            if len(self._heads) >= _HEADS:
                self._heads.clear()
            self._heads[key] = kept
        head = kept[0]
        if extra:
            if streamed or any(name.lower() in kept[1] for name, _ in extra):
                head = _head(request.method, route, all_headers(request),  # replaces one
                             None if streamed else CACHED_LENGTH)
            else:
                head += _lines(extra)
        if content is None:
            return head + (b"\r\n" if request.method in _NO_BODY_METHODS
                           else b"Content-Length: 0\r\n\r\n"), None
        if isinstance(content, bytes):
            return b"%bContent-Length: %d\r\n\r\n%b" % (head, len(content), content), None
        return head, content

    # -- bookkeeping ------------------------------------------------------------------------

    def connections_in_use(self) -> int:
        """Connections serving a request now (0 when every answer is read or closed)."""
        return sum(pool.in_use for pool in self._pools.values())

    async def aclose(self) -> None:
        self._forget_pools()

    def _forget_pools(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._routes.clear()




def _lines(headers: tuple[tuple[str, str], ...]) -> bytes:
    """Header lines to add to a kept head (refused when one would break it)."""
    text = "".join(f"{name}: {value}\r\n" for name, value in headers)
    if text.count("\n") != len(headers) or text.count("\r") != len(headers):
        raise _unsent(APIConnectionError("could not send the request: a request header "
                                         "holds a line break"))
    return text.encode("latin-1")


def _head(method: str, route: Route, headers: Mapping[str, str], length: int | None
          ) -> bytes:
    try:
        return encode_head(method, route, headers, length)
    except (ValueError, UnicodeError) as exc:
        raise _unsent(APIConnectionError(f"could not send the request: {exc}")) from None


async def _acquire(pool: Pool, timeout: Timeout, fresh: bool) -> Connection:
    try:
        return await pool.acquire(timeout.connect, fresh=fresh)
    except ssl.SSLCertVerificationError as exc:
        raise _unsent(APIConnectionError(
            f"could not talk to the upstream: {why_untrusted(exc, pool.origin.host)}")) from exc
    except (OSError, TimeoutError) as exc:
        raise mapped(exc, unsent=True) from exc


async def _upload(conn: Connection, ex: Exchange, head: bytes, body: AsyncIterable[bytes]
                  ) -> None:
    if not conn.send(ex, head, whole=False):
        return
    try:
        await upload(conn, ex, body, is_chunked(head))
    except BaseException:  # the body's own error, or cancelled
        if conn.ex is ex:
            conn.close()
        raise


def _may_resend(request: Request, conn: Connection, ex: Exchange) -> bool:
    """The module docstring's rule."""
    if not (conn.reused and not ex.got_bytes and isinstance(ex.error, ConnectionError)):
        return False
    if not ex.written:
        return True  # nothing left this side: not even a streamed body was read
    if not isinstance(request.content, bytes | None):
        return False
    return request.method in IDEMPOTENT or any(
        name.lower() == "idempotency-key" for name in request.headers)


def _unsent(error: APIError) -> APIError:
    if isinstance(error, APIConnectionError):
        error.unsent = True
    return error
