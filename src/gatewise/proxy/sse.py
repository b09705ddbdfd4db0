"""Relaying a stream as Server-Sent Events.

The stream's items are OpenAI SSE bytes already (``Router.acompletion_sse``: each upstream
read becomes one block of events, most passed through untouched), sent as they come;
``data: [DONE]`` ends a clean stream.  A failure mid-stream becomes a last
``data: {"error": {...}}`` event (the ``openai`` package raises on it), never a silent clean
end.  If the client goes away, the upstream request is closed at once; so it is when the
client stops reading (general_settings.client_timeout), or the server's graceful-shutdown
period ends (a last ``error`` event then says so).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import Headers, Receive, Send
from gatewise.proxy.deployments import Deployment
from gatewise.proxy.errors import ProxyError, internal_error, shutting_down
from gatewise.proxy.routes._common import upstream_error

if TYPE_CHECKING:
    from gatewise._streaming import AsyncStream

logger = logging.getLogger("gatewise.proxy")

SSE_HEADERS: Headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
DONE = b"data: [DONE]\n\n"


def error_event(error: ProxyError) -> bytes:
    return b"data: " + orjson.dumps(error.payload()) + b"\n\n"


class _Progress:
    """How far the pump has got: the events handed to the server, and whether it is
    waiting for the client to take one (the server holds ``send`` while its buffer to the
    client is full)."""

    __slots__ = ("sending", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.sending = False


async def _pump(stream: AsyncStream[bytes], send: Send, deployment: Deployment,
                call_id: bytes, progress: _Progress) -> None:
    try:
        async for block in stream:
            progress.sending = True
            await send({"type": "http.response.body", "body": block, "more_body": True})
            progress.sending = False
            progress.sent += 1
    except APIError as exc:
        last = error_event(upstream_error(exc, call_id, {}, deployment))
    except Exception:
        logger.exception("call %s: the stream relay failed", call_id.decode())
        last = error_event(internal_error(call_id.decode()))
    else:
        last = DONE
    progress.sending = True
    await send({"type": "http.response.body", "body": last, "more_body": False})
    progress.sending = False


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_done(pump: asyncio.Future[None], watch: asyncio.Future[None],
                      progress: _Progress, client_timeout: float) -> bool:
    """Wait for the stream to end or the client to leave; False if the client stopped
    reading: one event has waited for it for ``client_timeout`` seconds or more."""
    seen = -1
    while True:
        done, _ = await asyncio.wait((pump, watch), timeout=client_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if done:
            return True
        if progress.sending and progress.sent == seen:
            return False
        seen = progress.sent


async def relay(stream: AsyncStream[bytes], receive: Receive, send: Send,
                headers: Headers, deployment: Deployment, call_id: bytes,
                client_timeout: float) -> None:
    """Send ``stream`` as SSE until it ends or the client disconnects.  If the server cuts
    the stream (its graceful-shutdown period is over), the last event says so; if the client
    stops reading for ``client_timeout`` seconds, the stream is dropped (the server then
    closes the connection: nothing more can reach that client)."""
    try:
        await send({"type": "http.response.start", "status": 200,
                    "headers": SSE_HEADERS + headers})
        progress = _Progress()
        pump = asyncio.ensure_future(_pump(stream, send, deployment, call_id, progress))
        watch = asyncio.ensure_future(_wait_for_disconnect(receive))
        cut = False
        reading = True
        try:
            reading = await _until_done(pump, watch, progress, client_timeout)
        except asyncio.CancelledError:
            cut = not pump.done()
            if not cut:
                raise
        finally:
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
        if cut:
            await send({"type": "http.response.body", "body": error_event(shutting_down()),
                        "more_body": False})
        elif not reading:
            logger.warning("call %s: the client has read nothing for %g s; its stream is "
                           "dropped", call_id.decode(), client_timeout)
        elif pump.cancelled():  # the client left first
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("call %s: client disconnected mid-stream", call_id.decode())
        elif (error := pump.exception()) is not None:
            raise error
    finally:
        await stream.aclose()
