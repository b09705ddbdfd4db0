"""The blocking path: an httpx transport, and send / stream with retries over any transport."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

import httpx

from gatewise._exceptions import APIConnectionError, APIError, APITimeoutError
from gatewise._http._common import ErrorFor, error_from, with_context
from gatewise._http._decode import decode_answer
from gatewise._http._models import (
    RawResponse,
    Request,
    SslVerify,
    Timeout,
    all_headers,
    replayable,
)
from gatewise._http._propagate import CONTEXT_HEADERS, carrying
from gatewise._http._retry import RetryPolicy
from gatewise._http._secrets import NO_SECRETS, Secrets
from gatewise._http._sse import Decoder

T = TypeVar("T")


class SyncRawStream(Protocol):
    status: int
    headers: Mapping[str, str]

    def iter_bytes(self) -> Iterator[bytes]: ...
    def read(self) -> bytes: ...
    def close(self) -> None: ...


class SyncTransport(Protocol):
    def request(self, request: Request, timeout: Timeout) -> RawResponse: ...
    def open_stream(self, request: Request, timeout: Timeout) -> SyncRawStream: ...
    def connections_in_use(self) -> int: ...
    def close(self) -> None: ...


def _mapped(exc: httpx.HTTPError, *, mid_stream: bool = False) -> APIError:
    error: APIConnectionError
    if isinstance(exc, httpx.TimeoutException):
        error = APITimeoutError(f"the upstream did not answer in time ({type(exc).__name__})")
    elif mid_stream:
        error = APIConnectionError(
            f"the upstream stream broke before it was complete: {type(exc).__name__}: {exc}")
    else:
        error = APIConnectionError(
            f"could not talk to the upstream: {type(exc).__name__}: {exc}")
    # No connection could be opened (refused, DNS failure, TLS handshake, connect timeout):
    # nothing reached the upstream.
    error.unsent = not mid_stream and isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    return error


class _HttpxStream:
    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            yield from self._response.iter_raw()
        except httpx.HTTPError as exc:
            raise _mapped(exc, mid_stream=True) from exc

    def read(self) -> bytes:
        try:
            return self._response.read()
        except httpx.HTTPError as exc:
            raise _mapped(exc) from exc

    def close(self) -> None:
        self._response.close()


def _blocking(request: Request) -> bytes | None:
    content = request.content
    if content is not None and not isinstance(content, bytes):
        raise TypeError("the blocking transport sends bytes bodies only, not an async stream")
    return content


class HttpxTransport:
    """Pooled keep-alive connections through one ``httpx.Client`` (one more for each other
    ``ssl_verify`` a request asks for: httpx sets verification per client).  Bodies are
    bytes: a streamed (async iterable) body needs an asyncio transport."""

    def __init__(self, *, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._client = self._new_client(True)
        self._others: dict[SslVerify, httpx.Client] = {}

    def _new_client(self, verify: SslVerify) -> httpx.Client:
        limits = httpx.Limits(max_connections=self._max_connections,
                              max_keepalive_connections=self._max_connections)
        if isinstance(verify, str):
            from gatewise._http._tls import client_context

            try:
                context = client_context(verify)
            except (OSError, TypeError) as exc:
                raise APIConnectionError(f"could not talk to the upstream: {exc}") from exc
            return httpx.Client(limits=limits, follow_redirects=False, verify=context)
        return httpx.Client(limits=limits, follow_redirects=False, verify=verify)

    def _client_for(self, request: Request) -> httpx.Client:
        if not replayable(request):
            raise TypeError("a streamed request body needs an asyncio transport")
        verify = request.ssl_verify
        if verify is True:
            return self._client
        client = self._others.get(verify)
        if client is None:
            client = self._others[verify] = self._new_client(verify)
        return client

    @staticmethod
    def _timeout(timeout: Timeout) -> httpx.Timeout:
        return httpx.Timeout(timeout.read, connect=timeout.connect)

    def request(self, request: Request, timeout: Timeout) -> RawResponse:
        try:
            response = self._client_for(request).request(
                request.method, request.url, content=_blocking(request),
                headers=all_headers(request), timeout=self._timeout(timeout),
            )
        except httpx.HTTPError as exc:
            raise _mapped(exc) from exc
        return RawResponse(response.status_code, response.headers, response.content)

    def open_stream(self, request: Request, timeout: Timeout) -> SyncRawStream:
        client = self._client_for(request)
        built = client.build_request(
            request.method, request.url, content=_blocking(request),
            headers=all_headers(request), timeout=self._timeout(timeout),
        )
        try:
            return _HttpxStream(client.send(built, stream=True))
        except httpx.HTTPError as exc:
            raise _mapped(exc) from exc

    def connections_in_use(self) -> int:
        """Pooled connections currently serving a request (0 when all is released)."""
        total = 0
        for client in (self._client, *self._others.values()):
            pool = getattr(client._transport, "_pool", None)  # httpx's default transport
            connections = getattr(pool, "connections", ())
            total += sum(1 for c in connections if not (c.is_idle() or c.is_closed()))
        return total

    def close(self) -> None:
        for client in (self._client, *self._others.values()):
            client.close()


def send(
    transport: SyncTransport, request: Request, *, timeout: Timeout, policy: RetryPolicy,
    error_for: ErrorFor, provider: str, model: str, secrets: Secrets = NO_SECRETS,
    decode: Callable[[bytes, Secrets], dict[str, Any]] = decode_answer,
) -> dict[str, Any]:
    """POST and decode the JSON answer (``decode``: a success's body -> the answer),
    retrying what the policy says may be retried."""
    context = CONTEXT_HEADERS.get()
    if context:
        request = carrying(request, context)
    attempt = 0
    while True:
        try:
            response = transport.request(request, timeout)
            if response.status < 400:
                return decode(response.content, secrets)
            error = error_from(error_for, response.status, response.content,
                               response.headers, secrets)
        except APIError as exc:
            error = exc
        delay = policy.delay(error, attempt)
        if delay is None:
            raise with_context(error, provider, model, secrets)
        time.sleep(delay)
        attempt += 1


def open_stream(
    transport: SyncTransport, request: Request, *, timeout: Timeout, policy: RetryPolicy,
    error_for: ErrorFor, provider: str, model: str, secrets: Secrets = NO_SECRETS,
) -> SyncRawStream:
    """Open a streaming response whose status is a success, retrying like :func:`send`."""
    context = CONTEXT_HEADERS.get()
    if context:
        request = carrying(request, context)
    attempt = 0
    while True:
        try:
            stream = transport.open_stream(request, timeout)
            if stream.status < 400:
                return stream
            try:
                body = stream.read()
            finally:
                stream.close()
            error = error_from(error_for, stream.status, body, stream.headers, secrets)
        except APIError as exc:
            error = exc
        delay = policy.delay(error, attempt)
        if delay is None:
            raise with_context(error, provider, model, secrets)
        time.sleep(delay)
        attempt += 1


def iter_events(
    stream: SyncRawStream, *, provider: str, model: str, secrets: Secrets = NO_SECRETS,
    decoder: Decoder[T],
) -> Iterator[T]:
    """``decoder``'s items (an :class:`EventDecoder`'s: the decoded events) until
    ``[DONE]``, then its ``finish()``; a stream cut before it raises.  Always closes."""
    try:
        for chunk in stream.iter_bytes():
            yield from decoder.feed(chunk)
            if decoder.error is not None:
                raise decoder.error
            if decoder.done:
                yield from decoder.finish()
                return
        raise APIConnectionError("the upstream stream ended before it was complete (no [DONE])")
    except APIError as exc:
        with_context(exc, provider, model, secrets)
        raise
    finally:
        stream.close()
