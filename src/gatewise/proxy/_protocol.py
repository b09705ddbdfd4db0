"""The proxy's HTTP/1.1 server protocol: asyncio and httptools, ASGI for the app.

uvicorn runs the server -- sockets, workers, signals, the lifespan, graceful shutdown --
and this protocol serves each connection in place of uvicorn's own httptools protocol,
which costs about a third of a proxied request's CPU: a response written in two
``write()`` calls, two regular expressions per response header, an ``asyncio.Event`` and
a keep-alive timer armed and cancelled per request, a task callback per request.  Here a
small response is one ``write()`` (``_cycle``), header names are checked once per server,
and an idle connection's timer is one per connection, checked when it fires.

It keeps the contract uvicorn's server relies on (``server_state.connections`` and
``.tasks``, ``shutdown()`` for a graceful stop, the default ``date`` header), and every
guard of the proxy:

- a request head larger than ``max_head`` bytes is answered ``431`` in OpenAI's error
  shape, and the connection closed, as soon as that many bytes have arrived without the
  end of it;
- a head that has started must be complete within ``head_timeout`` seconds, else ``408``
  (the timer is armed only when a head does not arrive whole in one read);
- a connection idle for uvicorn's keep-alive timeout is closed -- a new one that sends
  nothing too;
- a request httptools cannot parse is answered ``400`` in OpenAI's shape;
- an upgrade request (``Upgrade: websocket``, ``h2c``...) is served as the plain HTTP
  request it also is (no route serves WebSockets), and the connection closes after the
  answer (the parser reads nothing more on it);
- pipelined requests are answered in order, one at a time (reading pauses meanwhile); a
  body is read as the app asks for it (reading pauses past 64 KiB unread); a client that
  does not read makes ``send`` wait (``pause_writing``), never buffers without bound.

The body's limits are the app's (``_asgi.read_body``): its size, and its pace.
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from collections import deque
from typing import Any, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl
from uvicorn.server import ServerState

from gatewise.proxy._asgi import DIRECT
from gatewise.proxy._cycle import Cycle
from gatewise.proxy.errors import ProxyError

__all__ = ["LINGER", "HttpProtocol", "ServerShared"]

logger = logging.getLogger("uvicorn.error")

_END = b"\r\n\r\n"
LINGER = 2.0  # seconds a refused client may go on sending (dropped) before the proxy closes
HIGH_WATER = 65536  # unread request body at which the socket stops being read
_NAME_RE = re.compile(b'[\x00-\x1f\x7f()<>@,;:\\[\\]={} \t\\\\"]')  # uvicorn's HEADER_RE
_MAX_NAMES = 512
_ASGI = {"version": "3.0", "spec_version": "2.3"}


class ServerShared:
    """What every connection of one server shares: the head's limits, and what is worked
    out once rather than per response (the checked header names, the default headers)."""

    def __init__(self, *, max_head: int, head_timeout: float) -> None:
        self.max_head = max_head
        self.head_timeout = head_timeout
        self.names: dict[bytes, bytes] = {}  # a response header name -> checked, lower case
        self.access_log = False
        self._state: ServerState | None = None
        self._defaults: list[tuple[bytes, bytes]] | None = None
        self._default_head = (b"", 0)

    def bind(self, config: Config, state: ServerState) -> None:
        if self._state is None:
            self._state = state
            # uvicorn's logging config leaves the access logger without handlers when off.
            self.access_log = logging.getLogger("uvicorn.access").hasHandlers()

    def default_head(self) -> tuple[bytes, int]:
        """uvicorn's default headers (``date``, renewed every second by its main loop),
        encoded, and how many lines they are."""
        assert self._state is not None
        defaults = self._state.default_headers
        if defaults is not self._defaults:
            self._defaults = defaults
            self._default_head = (b"".join(b"%s: %s\r\n" % (n, v) for n, v in defaults),
                                  len(defaults))
        return self._default_head

    def checked_name(self, name: bytes) -> bytes:
        """A response header name, once it is known not to break the head, in lower case
        (uvicorn's rule)."""
        if _NAME_RE.search(name):
            raise RuntimeError("Invalid HTTP header name.")
        lower = name.lower()
        if len(self.names) >= _MAX_NAMES:  # names an app makes up as it goes
            self.names.clear()
        self.names[name] = lower
        return lower


def _answer(error: ProxyError) -> bytes:
    body = error.body()
    return b"".join([STATUS_LINE[error.status], b"content-type: application/json\r\n",
                     b"content-length: ", str(len(body)).encode(), b"\r\n",
                     b"connection: close\r\n\r\n", body])


class HttpProtocol(asyncio.Protocol):
    """Give it to uvicorn as ``functools.partial(HttpProtocol, shared=ServerShared(...))``:
    uvicorn makes one per connection."""

    def __init__(self, config: Config, server_state: ServerState,
                 app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None,
                 *, shared: ServerShared) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.server = shared
        shared.bind(config, server_state)
        self.server_state = server_state
        # (uvicorn types these sets for its own protocols; it only adds, discards, counts.)
        self.connections = cast("set[Any]", server_state.connections)
        self.tasks = server_state.tasks
        self.app_state = app_state
        self.root_path: str = config.root_path
        self.keep_alive_timeout: float = config.timeout_keep_alive
        self.parser = httptools.HttpRequestParser(self)
        # Answer the first of pipelined requests sent with a close (uvicorn does the same).
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client: tuple[str, int] | None = None
        self.local: tuple[str, int | None] | None = None
        self.scheme = "http"
        self.cycle: Cycle | None = None  # the request being read (and the newest)
        self.pipeline: deque[Cycle] = deque()  # read whole, waiting for the one answering
        self.write_paused = False
        self.read_paused = False
        self._writable: asyncio.Future[None] | None = None
        # The request being parsed.
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._expect_continue = False
        # The head's guards (see the module's docstring).
        self._in_head = True
        self._head_bytes = 0  # of the head so far, in the chunks before the current one
        self._tail = b""  # the last bytes of the head so far, to find an end split in two
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False  # a request's first byte has come, not its last header
        self._refused = False
        # Idle since (loop time), or None while a request is read or answered; checked by
        # one timer a connection when it fires (never re-armed per request).
        self._idle_since: float | None = None
        self._idle_timer: asyncio.TimerHandle | None = None

    # -- asyncio's side -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # (uvloop's: no subclasses)
        self.connections.add(self)
        self.local = get_local_addr(self.transport)
        self.client = get_remote_addr(self.transport)
        self.scheme = "https" if is_ssl(self.transport) else "http"
        self._idle_since = self.loop.time()
        self._idle_timer = self.loop.call_at(self._idle_since + self.keep_alive_timeout,
                                             self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        self._stop_head_timer()
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for cycle in (self.cycle, *self.pipeline):
            if cycle is not None and not cycle.complete:
                cycle.disconnected = True
                cycle.wake()
        self.resume_writing()
        if exc is None:
            self.transport.close()
        self.parser = None  # type: ignore[assignment]

    def eof_received(self) -> None:
        pass  # (the transport closes: a half-closed client is a gone one, as in uvicorn)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._idle_since = None
        if self._in_head:
            tail = self._tail
            seen = tail + data if tail else data
            end = seen.find(_END)
            size = self._head_bytes + (len(data) if end < 0 else end + len(_END) - len(tail))
            if size > self.server.max_head:
                self._refuse(ProxyError(
                    431, f"the request's headers are larger than the proxy's limit of "
                         f"{self.server.max_head} bytes "
                         "(general_settings.max_request_header_bytes)",
                    code="request_header_fields_too_large"))
                return
            if end < 0:
                self._head_bytes = size
                self._tail = seen[-3:]
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # An upgrade no route makes: served as plain HTTP, and the parser reads nothing
            # more on this connection, so it closes after the answer.
            if self.cycle is not None:
                self.cycle.keep_alive = False
        except httptools.HttpParserError:
            logger.warning("Invalid HTTP request received.")
            self._refuse(ProxyError(
                400, "Invalid HTTP request received. (not HTTP/1.1 the proxy can read)",
                code="invalid_http_request"))
            return
        # A head that came whole (the usual case) needs no timer; one still incomplete does.
        if self._head_started and self._head_timer is None and not self._refused:
            self._head_timer = self.loop.call_later(self.server.head_timeout,
                                                    self._head_timed_out)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        writable = self._writable
        if writable is not None:
            self._writable = None
            if not writable.done():
                writable.set_result(None)

    async def drain(self) -> None:
        """Until the client has taken enough of what was written (or is gone)."""
        if self._writable is None:
            self._writable = self.loop.create_future()
        await asyncio.shield(self._writable)

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def _pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    # -- httptools' side ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._head_started = True
        self._url = b""
        self._headers = []
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        value = value.rstrip(b" \t")  # llhttp keeps trailing whitespace (RFC 9110 §5.5)
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = self._head_started = False
        self._stop_head_timer()
        parser = self.parser
        version = parser.get_http_version()
        url = httptools.parse_url(self._url)
        raw_path = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        root = self.root_path
        scope: dict[str, Any] = {"type": "http", "asgi": _ASGI, "http_version": version,
                 "server": self.local, "client": self.client, "scheme": self.scheme,
                 "method": parser.get_method().decode("ascii"), "root_path": root,
                 "path": root + path if root else path,
                 "raw_path": root.encode("ascii") + raw_path if root else raw_path,
                 "query_string": url.query or b"", "headers": self._headers}
        if self.app_state:
            scope["state"] = self.app_state.copy()
        cycle = Cycle(self, scope, version != "1.0" and parser.should_keep_alive(),
                      self._expect_continue)
        scope[DIRECT] = cycle
        current = self.cycle
        self.cycle = cycle
        if current is None or current.complete:
            self._start(cycle)
        else:  # pipelined: answered once those before it are
            self._pause_reading()
            self.pipeline.append(cycle)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return
        cycle.body.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > HIGH_WATER:
            self._pause_reading()  # resumed as the app receives it
        cycle.wake()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._tail = b""
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return
        cycle.more_body = False
        cycle.wake()

    # -- requests and answers -----------------------------------------------------------------

    def _start(self, cycle: Cycle) -> None:
        task = cycle.task = self.loop.create_task(cycle.run(self.app))
        self.tasks.add(task)

    def response_done(self, cycle: Cycle) -> None:
        """``cycle``'s answer has been sent whole: the next pipelined request, if any."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.resume_reading()
        if self.pipeline:
            self._start(self.pipeline.popleft())
        elif self.cycle is cycle and self._in_head and not self._head_started:
            self._idle_since = self.loop.time()

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, else after the answer in progress."""
        cycle = self.cycle
        if cycle is None or cycle.complete:
            self.transport.close()
        else:
            cycle.keep_alive = False

    def _check_idle(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        since = self._idle_since
        if since is not None and now >= since + self.keep_alive_timeout:
            self.transport.close()
            return
        due = (since if since is not None else now) + self.keep_alive_timeout
        self._idle_timer = self.loop.call_at(due, self._check_idle)

    # -- refusing ---------------------------------------------------------------------------

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_started:
            self._refuse(ProxyError(
                408, f"the request's headers did not arrive within "
                     f"{self.server.head_timeout:g} s (general_settings.client_timeout)",
                code="request_timeout"))

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
