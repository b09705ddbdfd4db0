"""uvicorn's httptools protocol, with the limits it lacks on a request's head.

As shipped, it accepts a request head of any size (a 20 MB header is read and parsed), and
waits forever for a head that trickles in, or for a first byte on a new connection (its
keep-alive timeout is armed only after a response).  Here:

- a head larger than ``max_head`` bytes is answered ``431`` in OpenAI's error shape, and
  the connection closed, as soon as that many bytes have arrived without the end of it;
- a head that has started must be complete within ``head_timeout`` seconds, else ``408``
  (the timer is armed only when a head does not arrive whole in one read);
- a new connection that sends nothing is closed after uvicorn's keep-alive timeout, as an
  idle connection between two requests already is;
- a request httptools cannot parse is answered ``400`` in OpenAI's shape, not plain text;
- an upgrade request (``Upgrade: websocket``, ``h2c``...) is served as the plain HTTP
  request it also is (the server runs with WebSockets off: no route serves them), without
  uvicorn's two warnings for each, and the connection closes after the answer (the parser
  reads nothing more on it).

The body's limits are the app's (``_asgi.read_body``): its size, and its pace.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gatewise.proxy.errors import ProxyError

_END = b"\r\n\r\n"
LINGER = 2.0  # seconds a refused client may go on sending (dropped) before the proxy closes


def _answer(error: ProxyError) -> bytes:
    body = error.body()
    return b"".join([STATUS_LINE[error.status], b"content-type: application/json\r\n",
                     b"content-length: ", str(len(body)).encode(), b"\r\n",
                     b"connection: close\r\n\r\n", body])


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Give it to uvicorn as ``functools.partial(GuardedHttpToolsProtocol, max_head=...,
    head_timeout=...)``."""

    def __init__(self, *args: Any, max_head: int, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_head = max_head
        self._head_timeout = head_timeout
        self._in_head = True
        self._head_bytes = 0  # of the head so far, in the chunks before the current one
        self._tail = b""  # the last bytes of the head so far, to find an end split in two
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._head_started = False  # a request's first byte has come, not yet its last header

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            tail = self._tail
            seen = tail + data if tail else data
            end = seen.find(_END)
            size = self._head_bytes + (len(data) if end < 0 else end + len(_END) - len(tail))
            if size > self._max_head:
                self._refuse(ProxyError(
                    431, f"the request's headers are larger than the proxy's limit of "
                         f"{self._max_head} bytes (general_settings.max_request_header_bytes)",
                    code="request_header_fields_too_large"))
                return
            if end < 0:
                self._head_bytes = size
                self._tail = seen[-3:]
        super().data_received(data)
        # A head that came whole (the usual case) needs no timer; one still incomplete does.
        if self._head_started and self._head_timer is None and not self._refused:
            self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True

    def on_headers_complete(self) -> None:
        self._in_head = self._head_started = False
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""
        super().on_message_complete()

    # -- refusing ------------------------------------------------------------------------------

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn's hook for an upgrade it will not make (it warns, and suggests installing
        # a WebSocket library): a stranger could fill the log with it.
        if self.cycle is not None:
            self.cycle.keep_alive = False

    def send_400_response(self, msg: str) -> None:
        """What httptools cannot parse: uvicorn's plain-text 400, in OpenAI's shape."""
        self._refuse(ProxyError(400, f"{msg} (not HTTP/1.1 the proxy can read)",
                                code="invalid_http_request"))

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_started:
            self._refuse(ProxyError(
                408, f"the request's headers did not arrive within {self._head_timeout:g} s "
                     "(general_settings.client_timeout)", code="request_timeout"))

    def _refuse(self, error: ProxyError) -> None:
        """Answer ``error`` and hang up -- gently: closing a socket with unread data in it
        resets the connection, and the client, still sending, would never see the answer.
        So the proxy says it is done sending, then reads and drops what still comes until
        the client closes (or ``LINGER`` seconds have passed)."""
        self._stop_head_timer()
        self._in_head = self._head_started = False
        self._refused = True
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(_answer(error))
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(LINGER, transport.close)
        else:
            transport.close()
