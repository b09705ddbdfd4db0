"""Relaying a stream of chunk dicts as Server-Sent Events.

Headers go out before the first chunk is awaited; each chunk is one ``data: {json}`` event
and ``data: [DONE]`` ends a clean stream.  A failure mid-stream becomes a last
``data: {"error": {...}}`` event (the ``openai`` package raises on it), never a silent clean
end.  If the client goes away, the upstream request is closed at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson

from gatewise._exceptions import APIError
from gatewise.proxy._asgi import Headers, Receive, Send
from gatewise.proxy.deployments import Deployment
from gatewise.proxy.errors import ProxyError, internal_error
from gatewise.proxy.routes._common import upstream_error

if TYPE_CHECKING:
    from gatewise._streaming import AsyncStream

logger = logging.getLogger("gatewise.proxy")

SSE_HEADERS: Headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
DONE = b"data: [DONE]\n\n"


def error_event(error: ProxyError) -> bytes:
    return b"data: " + orjson.dumps(error.payload()) + b"\n\n"


async def _pump(stream: AsyncStream[dict[str, Any]], send: Send, deployment: Deployment,
                call_id: bytes) -> None:
    dumps = orjson.dumps
    try:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": b"data: " + dumps(chunk) + b"\n\n",
                        "more_body": True})
    except APIError as exc:
        last = error_event(upstream_error(exc, call_id, {}, deployment))
    except Exception:
        logger.exception("call %s: the stream relay failed", call_id.decode())
        last = error_event(internal_error(call_id.decode()))
    else:
        last = DONE
    await send({"type": "http.response.body", "body": last, "more_body": False})


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def relay(stream: AsyncStream[dict[str, Any]], receive: Receive, send: Send,
                headers: Headers, deployment: Deployment, call_id: bytes) -> None:
    """Send ``stream`` as SSE until it ends or the client disconnects."""
    try:
        await send({"type": "http.response.start", "status": 200,
                    "headers": SSE_HEADERS + headers})
        pump = asyncio.ensure_future(_pump(stream, send, deployment, call_id))
        watch = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((pump, watch), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
        if pump.cancelled():  # the client left first
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("call %s: client disconnected mid-stream", call_id.decode())
        elif (error := pump.exception()) is not None:
            raise error
    finally:
        await stream.aclose()
