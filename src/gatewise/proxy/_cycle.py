"""One request and its response on a connection of the proxy's server (``_protocol``): the
ASGI ``receive`` and ``send`` the app is given, in the shape uvicorn gives them.

What differs from uvicorn's, and why (each costs the proxy per request):

- a response's head is kept until its first piece of body and written with it: a small
  answer is one ``write()`` (one system call, one TCP segment) instead of two.  A head
  whose body does not come in the same turn of the event loop goes out at the end of it;
- the head's header values are checked in one pass over the encoded head, and the names
  against those already seen (a handful, the same on every response), rather than two
  regular expressions per header;
- the request body is handed over without an ``asyncio.Event`` when it is all in.

The same rules hold: a header name or value that could split the head is refused
(``RuntimeError``, as uvicorn raises), a body longer or shorter than its
``content-length`` is an error, a response without a length is sent chunked (not to
``HEAD``, nor with 204/304), ``connection: close`` from the app closes the connection
after the answer, an app that fails before answering gets a plain 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

if TYPE_CHECKING:
    from gatewise.proxy._protocol import HttpProtocol

logger = logging.getLogger("uvicorn.error")
access_logger = logging.getLogger("uvicorn.access")

# What no header value may hold (uvicorn's HEADER_VALUE_RE), but CR and LF: in an encoded
# head they are counted instead (each line ends with the one CRLF it must have).
_VALUE_BAD = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DISCONNECT = {"type": "http.disconnect"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})


class Cycle:
    """One request/response exchange (``scope``) on the connection ``conn``."""

    __slots__ = ("body", "buffered", "chunked", "complete", "conn", "continue_", "delivered",
                 "disconnected", "head", "head_only", "keep_alive", "left", "more_body",
                 "scope", "started", "status", "task", "waiter")

    def __init__(self, conn: HttpProtocol, scope: dict[str, Any], keep_alive: bool,
                 expect_continue: bool) -> None:
        self.conn = conn
        self.scope = scope
        self.keep_alive = keep_alive
        self.continue_ = expect_continue  # "Expect: 100-continue": said once it is read
        self.head_only = scope["method"] == "HEAD"
        self.body: list[bytes] = []  # arrived, not yet received by the app
        self.buffered = 0  # their bytes
        self.more_body = True
        self.delivered = False  # the last of the body has been received by the app
        self.waiter: asyncio.Future[None] | None = None  # receive() waiting for news
        self.disconnected = False
        self.started = False
        self.complete = False
        self.head: bytes | None = None  # the response's head, until its first body goes
        self.chunked = False
        self.left: int | None = None  # of the content-length, still to send
        self.status = 0
        self.task: asyncio.Task[None] | None = None

    # -- the connection's side --------------------------------------------------------------

    def wake(self) -> None:
        """Something happened that a waiting ``receive()`` should see."""
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def run(self, app: Any) -> None:
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.started:
                if not self.disconnected:
                    await self._send_500()
            else:
                self.conn.transport.close()
        else:
            if not self.started and not self.disconnected:
                logger.error("ASGI callable returned without starting response.")
                await self._send_500()
            elif not self.complete and not self.disconnected:
                logger.error("ASGI callable returned without completing response.")
                self.conn.transport.close()
        finally:
            self.conn.tasks.discard(self.task)

    async def _send_500(self) -> None:
        await self.send({"type": "http.response.start", "status": 500, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21"),
            (b"connection", b"close")]})
        await self.send({"type": "http.response.body", "body": b"Internal Server Error"})

    def ready_body(self) -> bytes | None:
        """The whole request body if it has all arrived and ``receive()`` has handed none
        of it out, else None (``_asgi.Direct``)."""
        if self.more_body or self.delivered or self.disconnected or self.complete:
            return None
        parts = self.body
        self.body = []
        self.buffered = 0
        self.delivered = True
        self.continue_ = False  # the client sent its body without waiting for a go
        if len(parts) > 1:
            self.conn.resume_reading()
            return b"".join(parts)
        return parts[0] if parts else b""

    # -- ASGI -------------------------------------------------------------------------------

    async def receive(self) -> dict[str, Any]:
        conn = self.conn
        if self.continue_:
            self.continue_ = False
            if not conn.transport.is_closing():
                conn.transport.write(_CONTINUE)
        if not (self.disconnected or self.complete) and not self.body and (
                self.more_body or self.delivered):
            conn.resume_reading()
            waiter = self.waiter = conn.loop.create_future()
            await waiter
        if self.disconnected or self.complete:
            return _DISCONNECT
        parts = self.body
        if parts:
            self.body = []
            self.buffered = 0
            body = parts[0] if len(parts) == 1 else b"".join(parts)
            conn.resume_reading()
        else:
            body = b""
        if not self.more_body:
            self.delivered = True
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    async def send(self, message: dict[str, Any]) -> None:
        conn = self.conn
        if conn.write_paused and not self.disconnected:
            await conn.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got "
                                   f"'{kind}'.")
            self._start(message["status"], message.get("headers", ()))
            # A body that does not come in this turn of the loop must not hold the head back.
            conn.loop.call_soon(self._flush_head)
            return
        if self.complete:
            raise RuntimeError(f"Unexpected ASGI message '{kind}' sent, after response "
                               "already completed.")
        if kind != "http.response.body":
            raise RuntimeError(f"Expected ASGI message 'http.response.body', but got "
                               f"'{kind}'.")
        self._body(message.get("body", b""), message.get("more_body", False))

    def respond(self, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes
                ) -> bool:
        """A whole answer at once (``_asgi.Direct``): what ``send`` does with its start and
        one last body, without the two messages, the coroutines and the head's flush
        callback.  False when it has to wait for the client to take what was written
        before (the caller sends the messages instead)."""
        held = self._held()
        if held is not None:
            return held
        self._start(status, headers)
        self._body(body, False)
        return True

    def _held(self) -> bool | None:
        """Whether a whole answer cannot go now: True when there is no one to send it to
        (it counts as sent), False when the client has yet to take what was written
        before; None when it may go."""
        if self.disconnected:
            return True
        if self.conn.write_paused:
            return False
        if self.started:
            raise RuntimeError("Unexpected ASGI message 'http.response.start' sent, after "
                               "response already started.")
        return None

    def respond_lines(self, status: int, lines: bytes, body: bytes) -> bool:
        """:meth:`respond` for an app that wrote its header lines itself (``name: value``
        and CRLF each, names in lower case, none of the framing headers): the server adds
        its defaults, the ``content-length`` and, when the connection ends, ``connection:
        close``; the loop over the headers is spared.  A control character other than a
        line's own CRLF is refused as :meth:`respond` refuses it."""
        held = self._held()
        if held is not None:
            return held
        # Every line ends with CRLF, none is empty (it would end the head early), and no
        # other control character is anywhere.
        if (lines[-2:] != b"\r\n" or lines[:2] == b"\r\n" or b"\n\r\n" in lines
                or lines.count(b"\r\n") != lines.count(b"\n")
                or lines.count(b"\r") != lines.count(b"\n") or _VALUE_BAD.search(lines)):
            raise RuntimeError("Invalid HTTP header value.")
        self.started = True
        self.continue_ = False
        self.status = status
        conn = self.conn
        server = conn.server
        head = b"%b%b%bcontent-length: %d\r\n%b\r\n" % (
            STATUS_LINE[status], server.default_head()[0], lines, len(body),
            b"" if self.keep_alive else b"connection: close\r\n")
        conn.transport.write(head if self.head_only else head + body)
        if server.access_log:
            self._log_access()
        self._done()
        return True

    def piece(self, body: bytes) -> bool:
        """A piece of a started answer's body, more to come (``_asgi.Direct``): what
        ``send`` does with such a message, without it and its coroutine.  False when it
        has to wait for the client to take what was written before."""
        if self.disconnected:
            return True
        if self.conn.write_paused:
            return False
        if not self.started or self.complete:
            raise RuntimeError("Unexpected ASGI message 'http.response.body' sent, "
                               + ("before the response started." if not self.started
                                  else "after response already completed."))
        self._body(body, True)
        return True

    def _body(self, body: bytes, more: bool) -> None:
        conn = self.conn
        if self.head_only:
            data = b""
        elif self.chunked:
            data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more:
                data += _LAST_CHUNK
        else:
            left = self.left
            if left is not None:
                if len(body) > left:
                    raise RuntimeError("Response content longer than Content-Length")
                self.left = left - len(body)
            data = body
        head = self.head
        if head is not None:  # the head goes with the first piece: one write
            self.head = None
            data = head + data if data else head
        if data:
            conn.transport.write(data)
        if not more:
            if self.left and not self.head_only:
                raise RuntimeError("Response content shorter than Content-Length")
            self._done()

    def _done(self) -> None:
        """The answer has gone whole."""
        self.complete = True
        self.wake()
        conn = self.conn
        if not self.keep_alive:
            conn.transport.close()
        conn.response_done(self)

    def _start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.started = True
        self.continue_ = False
        self.status = status
        conn = self.conn
        server = conn.server
        defaults, lines = server.default_head()
        parts = [STATUS_LINE[status], defaults]
        lines += 1
        close = False
        names = server.names
        for name, value in headers:
            lower = names.get(name)
            if lower is None:
                lower = server.checked_name(name)
            if lower in _FRAMING:  # (one lookup for most headers, which are none of these)
                if lower == b"content-length":
                    if self.left is None and not self.chunked:
                        self.left = int(value.decode())
                elif lower == b"transfer-encoding":
                    if value.lower() == b"chunked":
                        self.left, self.chunked = None, True
                elif b"close" in [token.lower().strip() for token in value.split(b",")]:
                    self.keep_alive, close = False, True
            parts += (lower, b": ", value, b"\r\n")
            lines += 1
        if not self.keep_alive and not close:
            parts.append(b"connection: close\r\n")
            lines += 1
        if (self.left is None and not self.chunked and not self.head_only
                and status not in (204, 304)):
            self.chunked = True
            parts.append(b"transfer-encoding: chunked\r\n")
            lines += 1
        parts.append(b"\r\n")
        head = b"".join(parts)
        # Every line, and only they, end with CRLF; no other control character anywhere.
        lines += 1
        if head.count(b"\n") != lines or head.count(b"\r") != lines or _VALUE_BAD.search(
                head):
            raise RuntimeError("Invalid HTTP header value.")
        if self.head_only:
            self.left = 0
        self.head = head
        if server.access_log:
            self._log_access()

    def _log_access(self) -> None:
        scope: Any = self.scope
        access_logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(scope), scope["method"],
                           get_path_with_query_string(scope), scope["http_version"],
                           self.status)

    def _flush_head(self) -> None:
        head = self.head
        if head is not None and not self.disconnected:
            self.head = None
            self.conn.transport.write(head)
