"""Relaying a stream as Server-Sent Events.

The stream's items are OpenAI SSE bytes already (``Router.acompletion_sse``: each upstream
read becomes one block of events, most passed through untouched), sent as they come;
``data: [DONE]`` ends a clean stream.  A failure mid-stream becomes a last
``data: {"error": {...}}`` event (the ``openai`` package raises on it), never a silent clean
end.  If the client goes away, the upstream request is closed at once; so it is when the
client stops reading (general_settings.client_timeout), or the server's graceful-shutdown
period ends (a last ``error`` event then says so).

On the proxy's own server, a stream that can push (``router._attempt._Relay.push``) hands
each block, from the second on, straight to the client as it arrives, with no wake-up of
the relaying task; the task's loop takes over whenever the client is slow to read, and for
the stream's end or failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from gatewise._exceptions import APIError
from gatewise._relay import DONE, encode_event
from gatewise.proxy._asgi import Direct, Headers, Receive, Send
from gatewise.proxy.deployments import Deployment
from gatewise.proxy.errors import ProxyError, internal_error, shutting_down
from gatewise.proxy.routes._common import upstream_error

if TYPE_CHECKING:
    from gatewise._streaming import AsyncStream
    from gatewise.proxy.exchange import Exchange

logger = logging.getLogger("gatewise.proxy")

SSE_HEADERS: Headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


def error_event(error: ProxyError) -> bytes:
    return encode_event(error.payload())


class _Watch:
    """Watches a stream being relayed, and cancels the relaying task when its client has
    left (``http.disconnect``) or has taken nothing for ``client_timeout`` seconds (the
    server holds ``send`` while its buffer to the client is full): one listening task and
    one timer per stream, the relay itself runs in the request's own task.

    The listening task starts on the event loop's next round: a stream whose events are
    all in already (the upstream sent them at once) is relayed, and the watch closed,
    before that round, with no task made; a relay that waits for anything gets its
    listener before the wait ends.
    """

    __slots__ = ("_listener", "_loop", "_seen", "_task", "_timeout", "_timer", "broken",
                 "bytes", "clean", "reason", "sending", "sent")

    def __init__(self, receive: Receive, client_timeout: float) -> None:
        self.reason: str | None = None  # "gone" / "stalled" once it has cancelled the relay
        self.sent = 0
        self.bytes = 0  # relayed: what an estimate of an unfinished stream's usage goes by
        self.clean = False
        self.broken: ProxyError | None = None  # what ended the stream, when it failed
        self.sending = False
        self._seen = -1
        self._timeout = client_timeout
        self._loop = loop = asyncio.get_running_loop()
        self._task = asyncio.current_task(loop)
        self._listener: asyncio.Handle | asyncio.Task[None] = loop.call_soon(
            self._start_listening, receive)
        self._timer = loop.call_later(client_timeout, self._tick)

    def _start_listening(self, receive: Receive) -> None:
        self._listener = self._loop.create_task(self._listen(receive))

    async def _listen(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._stop("gone")

    def _tick(self) -> None:
        if self.sending and self.sent == self._seen:
            self._stop("stalled")
            return
        self._seen = self.sent
        self._timer = self._loop.call_later(self._timeout, self._tick)

    def _stop(self, reason: str) -> None:
        if self.reason is None and self._task is not None:
            self.reason = reason
            self._task.cancel()

    def handled(self) -> None:
        """Take back the cancellation the watcher made (the relay has dealt with it)."""
        if self._task is not None:
            self._task.uncancel()

    def close(self) -> None:
        self._timer.cancel()
        self._listener.cancel()


def _emitter(direct: Direct, watch: _Watch) -> Callable[[bytes], bool]:
    """Where a pushing stream hands its blocks as they arrive: straight to the client
    while it keeps up (False when it does not: the relay's loop sends that block)."""
    def emit(block: bytes) -> bool:
        if not direct.piece(block):
            return False
        watch.sent += 1
        watch.bytes += len(block)
        return True
    return emit


async def _pump(stream: AsyncStream[bytes], send: Send, deployment: Deployment,
                call_id: bytes, watch: _Watch, direct: Direct | None) -> None:
    pushing = direct is None  # (True: not to be tried)
    try:
        async for block in stream:
            if direct is None or not direct.piece(block):  # (at once if the client keeps up)
                watch.sending = True
                await send({"type": "http.response.body", "body": block, "more_body": True})
                watch.sending = False
            watch.sent += 1
            watch.bytes += len(block)
            if not pushing:  # from the second block on, blocks may come straight to emit
                pushing = True
                push = getattr(stream, "push", None)
                if push is not None and direct is not None:
                    push(_emitter(direct, watch))
    except APIError as exc:
        watch.broken = upstream_error(exc, call_id, {}, deployment)
        last = error_event(watch.broken)
    except Exception:
        logger.exception("call %s: the stream relay failed", call_id.decode())
        watch.broken = internal_error(call_id.decode())
        last = error_event(watch.broken)
    else:
        last = DONE
        watch.clean = True
    watch.sending = True
    await send({"type": "http.response.body", "body": last, "more_body": False})
    watch.sending = False


async def relay(stream: AsyncStream[bytes], receive: Receive, send: Send,
                headers: Headers, deployment: Deployment, call_id: bytes,
                client_timeout: float, exchange: Exchange | None = None,
                direct: Direct | None = None) -> None:
    """Send ``stream`` as SSE until it ends or the client disconnects (``direct``: the
    server's ``_asgi.Direct``, for the pieces it can send at once).  If the server cuts
    the stream (its graceful-shutdown period is over), the last event says so; if the client
    stops reading for ``client_timeout`` seconds, the stream is dropped (the server then
    closes the connection: nothing more can reach that client).  The ``exchange`` learns
    the stream's usage (estimated when it ended before saying it) and whether the client
    left."""
    watch: _Watch | None = None
    try:
        await send({"type": "http.response.start", "status": 200,
                    "headers": SSE_HEADERS + headers})
        watch = _Watch(receive, client_timeout)
        try:
            await _pump(stream, send, deployment, call_id, watch, direct)
        except asyncio.CancelledError:
            watch.close()  # before the last words below: nothing may cancel those
            if watch.reason is None:  # the server's graceful-shutdown period is over
                await send({"type": "http.response.body", "body": error_event(shutting_down()),
                            "more_body": False})
                return
            watch.handled()
            if watch.reason == "stalled":
                logger.warning("call %s: the client has read nothing for %g s; its stream is "
                               "dropped", call_id.decode(), client_timeout)
            elif logger.isEnabledFor(logging.DEBUG):
                logger.debug("call %s: client disconnected mid-stream", call_id.decode())
        finally:
            watch.close()  # however the relay ended (a failed send too)
    finally:
        if exchange is None:
            await stream.aclose()
        else:
            await _close(stream, exchange, watch)


BYTES_PER_EVENT = 160
"""About what one streamed token's event weighs on the wire: an unfinished stream's output
is estimated from the bytes relayed."""


async def _close(stream: AsyncStream[bytes], exchange: Exchange, watch: _Watch | None) -> None:
    """Close the stream, telling the exchange what it used (and the ticket, to settle it
    with an estimate when the stream ended before its usage came)."""
    ticket = exchange.ticket
    estimate = None
    if watch is None or not watch.clean:
        prompt = ticket.tokens if ticket is not None else 0
        completion = (watch.bytes if watch is not None else 0) // BYTES_PER_EVENT
        estimate = {"prompt_tokens": prompt, "completion_tokens": completion,
                    "total_tokens": prompt + completion}
        if ticket is not None:
            ticket.fallback_usage = estimate
    try:
        await stream.aclose()
    finally:
        usage = getattr(stream, "usage", None)
        if usage is not None:
            exchange.used(usage)
        else:
            exchange.used(estimate, estimated=estimate is not None)
        if watch is not None and watch.reason is not None:
            exchange.abandoned()
        elif watch is not None and watch.broken is not None:  # its last event says why
            exchange.failed(watch.broken.status, watch.broken.type)
