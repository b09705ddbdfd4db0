"""``/mistral/{path}``: any method, path, query and body to Mistral, the answer back as it
comes -- for what gatewise does not model (agents, conversations, files, batch jobs,
libraries...).  See :mod:`gatewise.proxy._passthrough` for where it goes and which headers
cross.

The proxy's own key check runs first (the app's); the client's credentials never reach
Mistral, the configured key does.  Neither body is held whole: the request's is sent as
it arrives, the answer relayed as it comes (SSE included), except a JSON answer of up to
``COST_READ_AHEAD`` bytes, read whole to put its cost in ``x-gatewise-response-cost``
when it names a model the catalogue prices and carries a ``usage``.  An upstream error
passes as it is (status and body), the key taken out of it if it was echoed.  Nothing is
retried: a body that streamed through cannot be sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from gatewise._exceptions import APIError
from gatewise._http import Request, Timeout
from gatewise._http import _async as http
from gatewise.proxy._asgi import ClientDisconnected, Receive, Scope, Send, respond, too_slow
from gatewise.proxy._passthrough import (
    PassThroughTarget,
    answer_headers,
    request_headers,
    subpath,
)
from gatewise.proxy.config import DEFAULT_REQUEST_TIMEOUT
from gatewise.proxy.errors import ProxyError, bad_request, from_api_error
from gatewise.proxy.exchange import Exchange, exchange_of
from gatewise.proxy.routes import _passthrough_spend as spend
from gatewise.proxy.routes._common import cost_headers
from gatewise.proxy.sse import _Watch  # the chat relay's watch on the client, reused
from gatewise.proxy.state import AppState

logger = logging.getLogger("gatewise.proxy")

COST_READ_AHEAD = 1024 * 1024
"""Bytes of a JSON answer read before its headers go out, to find its cost."""


class _Body:
    """The client's request body as it arrives (an async iterable, iterated once); a
    failure on the client's side is kept for the route to answer."""

    def __init__(self, first: bytes, receive: Receive, state: AppState) -> None:
        self._first = first
        self._receive = receive
        self._state = state
        self.done = False
        self.failure: Exception | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._first
        state = self._state
        while not self.done:
            try:
                with state.deadlines.within(state.client_timeout):
                    message = await self._receive()
            except TimeoutError:
                self.failure = too_slow(state.client_timeout)
                raise self.failure from None
            if message["type"] == "http.disconnect":
                self.failure = ClientDisconnected()
                raise self.failure
            self.done = not message.get("more_body")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk


async def _request_body(scope: Scope, receive: Receive, state: AppState
                        ) -> tuple[bytes | _Body | None, _Body | None]:
    """The body to send: bytes when it came in one piece (or None, for none), else a
    :class:`_Body` streaming the rest (also returned, to ask how it went)."""
    try:
        with state.deadlines.within(state.client_timeout):
            message = await receive()
    except TimeoutError:
        raise too_slow(state.client_timeout) from None
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    first = message.get("body", b"")
    if not message.get("more_body"):
        return (first or None), None
    body = _Body(first, receive, state)
    return body, body


def _secrets(target: PassThroughTarget) -> list[bytes]:
    out = []
    for _, secret in target.headers:
        value = secret.reveal()
        out.append(value.encode())
        if value.lower().startswith("bearer "):
            out.append(value[7:].strip().encode())
    return [s for s in out if len(s) >= 8]


def _scrubbed(body: bytes, target: PassThroughTarget) -> bytes:
    for secret in _secrets(target):
        body = body.replace(secret, b"***")
    return body


async def passthrough(state: AppState, scope: Scope, receive: Receive, send: Send) -> None:
    target = state.pass_through
    if target is None:
        raise ProxyError(503, "the /mistral pass-through has nowhere to go: set "
                              "general_settings.pass_through_endpoints, or a mistral/ model "
                              "with a key", type="api_error", code="pass_through_not_configured")
    rest = subpath(scope.get("raw_path") or scope["path"].encode())
    if rest is None:
        raise bad_request("the path may not step out of /mistral/ (no . or .. segments)")
    query: bytes = scope.get("query_string", b"")
    url = target.root + rest + (f"?{query.decode('latin-1')}" if query else "")
    exchange = exchange_of(scope)
    ticket = await spend.admit(state, scope, exchange)
    try:
        await _call(state, scope, receive, send, target, url, rest, exchange)
    finally:
        await spend.release(state, ticket)


async def _call(state: AppState, scope: Scope, receive: Receive, send: Send,
                target: PassThroughTarget, url: str, rest: str, exchange: Exchange) -> None:
    content, body = await _request_body(scope, receive, state)
    request = Request(scope["method"], url, request_headers(scope["headers"], target), content)
    call_id = exchange.call_id
    timeout = Timeout(read=state.config.request_timeout or DEFAULT_REQUEST_TIMEOUT)
    try:
        upstream = await http.open_raw(state.client.transport, request, timeout=timeout,
                                       provider="mistral", secrets=target.secrets)
    except APIError as exc:
        if body is not None and body.failure is not None:
            raise body.failure from None  # the client's fault, not Mistral's
        raise _failed(exc, call_id, rest) from None
    try:
        await _relay(state, target, upstream, exchange, receive, send,
                     watch=body is None or body.done)
    except APIError as exc:  # the answer broke before its head went out
        raise _failed(exc, call_id, rest) from None
    finally:
        upstream.close()


def _failed(exc: APIError, call_id: bytes, path: str) -> ProxyError:
    """The answer for a call that could not talk to Mistral (502, 504)."""
    error = from_api_error(exc)
    error.headers.append((b"x-gatewise-call-id", call_id))
    logger.warning("call %s: /mistral%s failed: %s", call_id.decode(), path[:200],
                   error.message)
    return error


async def _relay(state: AppState, target: PassThroughTarget, upstream: http.AsyncRawStream,
                 exchange: Exchange, receive: Receive, send: Send, *, watch: bool) -> None:
    headers = [*answer_headers(upstream.headers), (b"x-gatewise-call-id", exchange.call_id)]
    status = exchange.record.status = upstream.status
    if status >= 400:  # an error's body is small: read whole, scrubbed, passed on
        await respond(send, status, _scrubbed(await upstream.aread(), target), headers)
        return
    kind = upstream.headers.get("content-type", "")
    ahead: list[bytes] = []
    if kind.startswith("application/json"):
        size = 0
        while size <= COST_READ_AHEAD:
            chunk = await upstream.read_chunk()
            if not chunk:
                whole = b"".join(ahead)
                found = spend.priced(state, whole)
                spend.book(exchange, found)
                cost = cost_headers(found[2] if found is not None else None)
                await respond(send, status, whole, headers + cost)
                return
            ahead.append(chunk)
            size += len(chunk)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    for chunk in ahead:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await _stream(upstream, receive, send, state.client_timeout, watch=watch)


async def _stream(upstream: http.AsyncRawStream, receive: Receive, send: Send,
                  client_timeout: float, *, watch: bool) -> None:
    """The rest of the answer as it comes; a client that leaves (or stops reading) ends
    it (watched only once the request body is all in: the watch reads ``receive``)."""
    watcher = _Watch(receive, client_timeout) if watch else None
    try:
        while chunk := await upstream.read_chunk():
            if watcher is not None:
                watcher.sending = True
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if watcher is not None:
                watcher.sending = False
                watcher.sent += 1
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if watcher is None or watcher.reason is None:
            raise
        watcher.close()
        watcher.handled()
    except APIError as exc:
        # The upstream broke mid-answer: the answer is left unfinished, so the server
        # closes the connection and the client sees the cut (never a clean, short body).
        logger.warning("a /mistral answer broke off mid-body: %s", exc.message)
    finally:
        if watcher is not None:
            watcher.close()


PREFIX = "/mistral/"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
