"""The few ASGI pieces the proxy needs: types, reading a bounded body, sending an answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import monotonic
from typing import Any, Protocol

import orjson

from gatewise.proxy.errors import ProxyError
from gatewise.router._deadline import PerLoop

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

JSON_TYPE = (b"content-type", b"application/json")
DIRECT = "gatewise.direct"
"""A server may put a :class:`Direct` under this scope key: the exchange's own ways in and
out, without ASGI's messages.  The proxy's own server does (its ``_cycle.Cycle``)."""


class Direct(Protocol):
    def ready_body(self) -> bytes | None:
        """The request's body when all of it has arrived (``receive()`` then hands it out
        no more), else None: the usual body, in by the time the app runs, is taken without
        the wait and its deadline that :func:`read_body` otherwise sets up."""

    def respond(self, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes
                ) -> bool:
        """A whole answer at once (head and body in one write), as the two messages would
        send it; False when it has to go as messages after all (the client is slow to read
        what came before)."""

    def respond_lines(self, status: int, lines: bytes, body: bytes) -> bool:
        """:meth:`respond` with the header lines written by the app (``name: value\\r\\n``
        each, lower-case names, no ``content-length``, ``transfer-encoding`` nor
        ``connection``): the server adds its own and the body's length."""

    def piece(self, body: bytes) -> bool:
        """A piece of a started answer's body, more to come, as ``{"type":
        "http.response.body", "body": body, "more_body": True}`` would send it; False when
        that message has to be sent after all."""


class ClientDisconnected(Exception):
    """The client went away before the proxy could answer."""


def header_pairs(lines: bytes) -> Headers:
    """Head lines (``name: value`` and CRLF each) as a list of headers."""
    return [_pair(line) for line in lines.split(b"\r\n")[:-1]]


def _pair(line: bytes) -> tuple[bytes, bytes]:
    name, _, value = line.partition(b": ")
    return name, value


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower case, as ASGI servers give them)."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def too_large(limit: int) -> ProxyError:
    return ProxyError(413, f"the request body is larger than the proxy's limit of {limit} bytes "
                           "(general_settings.max_request_body_bytes)",
                      code="request_too_large", headers=[(b"connection", b"close")])


def too_slow(seconds: float) -> ProxyError:
    return ProxyError(408, f"the request body stopped arriving: nothing came for {seconds:g} s "
                           "(general_settings.client_timeout)",
                      code="request_timeout", headers=[(b"connection", b"close")])


def too_long(seconds: float) -> ProxyError:
    return ProxyError(408, f"the request body did not arrive whole within {seconds:g} s "
                           "(general_settings.request_body_timeout)",
                      code="request_timeout", headers=[(b"connection", b"close")])


async def _next(receive: Receive, deadlines: PerLoop, gap: float, left: float,
                whole: float) -> Message:
    """The next piece of a body: within ``gap`` seconds (the pause a client may take), and
    within the ``left`` seconds of the ``whole`` body's time."""
    if left <= 0:
        raise too_long(whole)
    wait = gap if gap < left else left
    try:
        with deadlines.within(wait):
            return await receive()
    except TimeoutError:
        raise too_slow(gap) if wait == gap else too_long(whole) from None


async def read_body(scope: Scope, receive: Receive, limit: int, deadlines: PerLoop,
                    timeout: float, whole: float) -> bytes:
    """The whole request body; a 413 as soon as it is known to exceed ``limit`` bytes, a 408
    when the client leaves ``timeout`` seconds between two pieces of it (or before the
    first), or when the body has not come whole ``whole`` seconds after it was first asked
    for (a client trickling a byte every few seconds would hold the connection forever):
    the server itself never gives up on a slow body."""
    direct: Direct | None = scope.get(DIRECT)
    if direct is not None:
        arrived = direct.ready_body()
        if arrived is not None:
            if len(arrived) > limit:
                raise too_large(limit)
            return arrived
    length = header(scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    start = monotonic()
    message = await _next(receive, deadlines, timeout, whole, whole)
    body = message.get("body", b"")
    if not message.get("more_body"):
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        if len(body) > limit:
            raise too_large(limit)
        return bytes(body)
    parts = [body]
    size = len(body)
    end = start + whole
    while message.get("more_body"):
        message = await _next(receive, deadlines, timeout, end - monotonic(), whole)
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)


async def respond(send: Send, status: int, body: bytes, headers: Headers) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send: Send, data: Any, status: int = 200,
                       headers: Headers | None = None) -> None:
    await respond(send, status, orjson.dumps(data), [JSON_TYPE, *(headers or ())])


async def respond_error(send: Send, error: ProxyError, headers: Headers | None = None) -> None:
    await respond(send, error.status, error.body(),
                  [JSON_TYPE, *error.headers, *(headers or ())])
