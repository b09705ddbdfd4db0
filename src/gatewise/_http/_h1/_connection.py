"""One HTTP/1.1 connection: an asyncio protocol that writes a request and parses its
answer with httptools, handing it over as it arrives.

The answer of the request in progress is an :class:`Exchange`: its head, its body's
pieces, and how it ended.  Whoever waits on it (the whole answer, a stream's head, or a
stream's next read) waits on one future, resolved once per arrival at most.  The read
timeout is one timer a connection, kept from one request to the next and checked when it
fires (never re-armed per arrival, nor per request unless a shorter timeout comes): it
fails the exchange once a wait has seen no byte for ``read_timeout`` seconds.

Once an answer is complete the connection goes back to its pool at once (its body is kept
by the exchange), unless either side said ``Connection: close`` or the request was not
sent whole.  A stream closed before its end is closed with its connection, which tells
the upstream to stop generating -- unless all that comes next is the end of its framing
(a chunked stream's last chunk, sent just after ``[DONE]``): a closed stream is drained
for ``DRAIN_SECONDS`` at most, and closed as soon as more than ``DRAIN_BYTES`` arrive.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from httptools import HttpResponseParser

from gatewise._http._h1._exchange import (
    MAX_HEAD,
    Exchange,
    UpstreamClosed,
    decoder_for,
    framed,
    head_end,
    read_head,
)

if TYPE_CHECKING:
    from gatewise._http._h1._pool import Pool

HIGH_WATER = 1 << 20  # unread bytes of a stream at which the socket stops being read
DRAIN_SECONDS = 0.25  # how long a stream closed before its end may take to end
DRAIN_BYTES = 64  # how much of it may still come: framing, not another event


class Connection(asyncio.Protocol):
    """A connection of a :class:`Pool`; ``ex`` is the exchange in progress (None: idle)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = HttpResponseParser(self)
        self.ex: Exchange | None = None
        self.closed = False
        self.reused = False  # has answered before: may have been closed by the upstream
        self.state = "connecting"  # the pool's: connecting, busy, idle, draining, closed
        self.expires = 0.0  # when an idle connection is too old to use (set by the pool)
        self.last_arrival = 0.0
        self.interim = False  # inside a 1xx answer, which precedes the real one
        self.write_paused = False
        self.drain: asyncio.Future[None] | None = None  # a streamed upload's wait (_upload)
        self.timer: asyncio.TimerHandle | None = None  # the read timeout's (see the top)
        self.timer_due = 0.0

    # -- asyncio's side -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # (uvloop's are not subclasses)

    def data_received(self, data: bytes) -> None:
        ex = self.ex
        if ex is None or ex.complete:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        self.last_arrival = self.loop.time()
        ex.got_bytes = True
        if not ex.head_done:  # (kept for on_headers_complete, which reads the head whole)
            ex.pending = ex.pending + data if ex.pending else data
        try:
            self.parser.feed_data(data)
        except Exception as exc:  # a malformed answer, or bytes after its end
            ex.fail(exc.__context__ if isinstance(exc.__context__, UpstreamClosed) else exc)
            self.close()
            return
        if ex.complete:
            self._finished(ex)
        elif not ex.head_done and len(ex.pending) > MAX_HEAD:
            ex.fail(UpstreamClosed(f"the upstream's answer has a head larger than "
                                   f"{MAX_HEAD // 1024} KiB"))
            self.close()

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        self.close()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self.wake_upload()

    # -- httptools' side ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        ex = self.ex
        if ex is None or ex.complete:
            raise UpstreamClosed("the upstream sent more than one answer")

    def on_headers_complete(self) -> None:
        ex = self.ex
        assert ex is not None
        pending = ex.pending
        end = head_end(pending)
        status = self.parser.get_status_code()
        if status < 200:  # 100 Continue and the like: the answer is still to come
            self.interim = True
            ex.pending = pending[end:]
            return
        read_head(ex, pending[:end])
        ex.pending = b""
        ex.status = status
        ex.head_done = True
        if ex.encoding:
            ex.decoder = decoder_for(ex.encoding)
        self.wake_upload()  # an answer before the whole upload: stop sending
        if ex.head_only:
            ex.complete = True
            ex.wake()
        elif ex.streaming:
            ex.wake()

    def on_body(self, body: bytes) -> None:
        ex = self.ex
        assert ex is not None
        if ex.discarded:
            ex.size += len(body)
            if ex.size > DRAIN_BYTES:
                raise UpstreamClosed("too much left of a closed stream to drain it")
            return
        if ex.decoder is not None:
            body = ex.decoder.decompress(body)
            if not body:
                return
        push = ex.push
        if push is not None:  # (armed only while the read waits, so nothing is pending)
            if not push(body):  # taken; its reader has to see to something: wake it
                ex.push = None
                ex.wake()
            return
        ex.chunks.append(body)
        ex.size += len(body)
        if ex.streaming:
            ex.wake()
            if ex.size > HIGH_WATER and self.transport is not None:
                self.transport.pause_reading()  # resumed by the read that takes them

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        ex = self.ex
        assert ex is not None
        if ex.decoder is not None and not ex.discarded:
            tail = ex.decoder.flush()
            if tail:
                ex.chunks.append(tail)
                ex.size += len(tail)
        # (Only now: once the callback returns, the parser is reset for the next answer.)
        ex.reusable = self.parser.should_keep_alive()
        ex.complete = True
        ex.wake()

    # -- the exchange ---------------------------------------------------------------------

    def begin(self, read_timeout: float | None, streaming: bool, head_only: bool
              ) -> Exchange:
        """Start the next exchange on this (busy) connection."""
        now = self.loop.time()
        ex = self.ex = Exchange(read_timeout, streaming, head_only, now)
        self.last_arrival = now
        if read_timeout is not None:
            due = now + read_timeout
            timer = self.timer
            if timer is None or self.timer_due > due:  # else it fires soon enough
                if timer is not None:
                    timer.cancel()
                self.timer, self.timer_due = self.loop.call_at(due, self._check_silence), due
        return ex

    def send(self, ex: Exchange, data: bytes, *, whole: bool = True) -> bool:
        """Write the request (or, not ``whole``, its head); False when the connection
        turned out to be closed already (nothing was written)."""
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            ex.fail(UpstreamClosed("the kept-alive connection had been closed"))
            self.close()
            return False
        transport.write(data)
        ex.written = True
        ex.sent = whole
        return True

    def wake_upload(self) -> None:
        """A streamed upload waiting to write (``_upload``) may go on, or see why not."""
        drain = self.drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def wait(self, ex: Exchange) -> asyncio.Future[None]:
        """A future resolved at the next step of ``ex`` (head, arrival, end or failure)."""
        waiter = ex.waiter = self.loop.create_future()
        return waiter

    def abandon(self, ex: Exchange) -> None:
        """Its reader is done with ``ex`` before its end: drain the rest a moment if it is
        short and framed (so the connection can be kept), else close."""
        if self.ex is not ex or ex.complete or self.closed:
            return
        if not (ex.head_done and ex.sent and ex.error is None and not ex.chunks
                and framed(ex.head)):
            self.close()
            return
        ex.discarded = True
        ex.size = 0
        ex.decoder = None
        self.pool.draining(self)
        ex.drain_timer = self.loop.call_later(DRAIN_SECONDS, self._drain_over, ex)
        if self.transport is not None:
            self.transport.resume_reading()

    def _drain_over(self, ex: Exchange) -> None:
        if self.ex is ex:
            self.close()

    def resume(self) -> None:
        """A stream's reader took its buffered bytes: read the socket again."""
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def _finished(self, ex: Exchange) -> None:
        self.ex = None
        if ex.drain_timer is not None:
            ex.drain_timer.cancel()
        if ex.streaming and ex.size > HIGH_WATER:
            self.resume()
        if ex.reusable and ex.sent and not ex.head_only and not self.closed:
            self.reused = True
            self.pool.release(self, ex.keep_alive)
        else:
            self.close()

    def _ended(self, exc: Exception | None) -> None:
        """The connection ended (EOF, or lost): the end of a body read until then, else a
        failure of the exchange in progress."""
        ex = self.ex
        if ex is None or ex.complete or ex.error is not None:
            return
        if (exc is None and ex.head_done and not self.interim and not ex.discarded
                and not framed(ex.head)):
            if ex.decoder is not None:
                tail = ex.decoder.flush()
                if tail:
                    ex.chunks.append(tail)
            ex.complete = True  # a body without a length ends with the connection
            self.ex = None
            ex.wake()
            self.close()
            return
        ex.fail(exc or UpstreamClosed(
            "the upstream closed the connection before its answer was complete"
            if ex.got_bytes else "the upstream closed the connection without answering"))
        self.wake_upload()

    def _check_silence(self) -> None:
        self.timer = None
        ex = self.ex
        if (ex is None or ex.complete or ex.error is not None or ex.read_timeout is None
                or ex.discarded):  # (nobody waits: the next exchange arms it again)
            return
        now = self.loop.time()
        if ex.waiting:
            due = max(ex.wait_from, self.last_arrival) + ex.read_timeout
            if now >= due:
                ex.fail(TimeoutError(f"no data from the upstream for {ex.read_timeout:g} s"))
                self.wake_upload()
                self.close()
                return
        else:
            due = now + ex.read_timeout
        self.timer, self.timer_due = self.loop.call_at(due, self._check_silence), due

    def close(self) -> None:
        """Close the connection (the exchange in progress, if any, fails)."""
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        ex = self.ex
        if ex is not None:
            if ex.drain_timer is not None:
                ex.drain_timer.cancel()
            ex.fail(UpstreamClosed("the connection was closed before the answer was complete"))
        self.wake_upload()
        self.pool.drop(self)
        if self.transport is not None and not self.loop.is_closed():
            self.transport.close()
