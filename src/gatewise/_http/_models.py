"""Plain values the HTTP layer passes around: what to send, how long to wait, when to retry."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

DEFAULT_TIMEOUT = 600.0
"""Seconds a call may wait for the upstream (per read; also the stream idle timeout)."""
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_NUM_RETRIES = 2

Body: TypeAlias = bytes | AsyncIterable[bytes] | None
SslVerify: TypeAlias = bool | str


class Request(NamedTuple):
    """One HTTP request to an upstream (a tuple: one is made per call, and a frozen
    dataclass costs four times as much to make).

    ``content`` is the encoded body, or an async iterable of bytes for a body streamed as it
    is produced (an upload relayed as it arrives; the asyncio transports only): sent with
    ``Transfer-Encoding: chunked`` unless ``headers`` give a ``Content-Length``.  Such a
    body is iterated afresh for each attempt, so one that can be replayed
    (``gatewise._multipart``) can also be retried (see :func:`replayable`).
    ``ssl_verify`` is how an ``https`` upstream's certificate is checked: True against the
    system's CA store, False not at all, or a path to a CA bundle (a file, or a directory
    of hashed certificates); the hostname is checked whenever the certificate is.
    ``context_headers`` are sent after ``headers``, for this request alone (a trace's
    ``traceparent``: see ``_propagate``): a transport never caches them.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    content: Body = None
    ssl_verify: SslVerify = True
    context_headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # headers hold the API key: never show them
        return f"Request(method={self.method!r}, url={self.url!r})"


def all_headers(request: Request) -> Mapping[str, str]:
    """The headers to send: ``headers``, plus ``context_headers`` when there are any."""
    extra = request.context_headers
    return {**request.headers, **dict(extra)} if extra else request.headers


def replayable(request: Request) -> bool:
    """Whether ``request`` can be sent again: its body is bytes, or an iterable that says
    each iteration starts afresh (``replayable = True``: ``gatewise._multipart``), not a
    one-shot one."""
    content = request.content
    return content is None or isinstance(content, bytes) or bool(
        getattr(content, "replayable", False))


@dataclass(frozen=True, slots=True)
class Timeout:
    """``read`` bounds each wait for bytes (time to first byte, and the gap between stream
    events); ``connect`` bounds opening the connection."""

    read: float = DEFAULT_TIMEOUT
    connect: float = DEFAULT_CONNECT_TIMEOUT

    @classmethod
    def of(cls, value: float | Timeout | None) -> Timeout:
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        seconds = float(value)
        if seconds <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {value!r}")
        return cls(read=seconds, connect=min(seconds, DEFAULT_CONNECT_TIMEOUT))


class RawResponse(NamedTuple):
    status: int
    headers: Mapping[str, str]
    content: bytes
