"""Plain values the HTTP layer passes around: what to send, how long to wait, when to retry."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

DEFAULT_TIMEOUT = 600.0
"""Seconds a call may wait for the upstream (per read; also the stream idle timeout)."""
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_NUM_RETRIES = 2


class Request(NamedTuple):
    """One HTTP request to an upstream, body already encoded (a tuple: one is made per
    call, and a frozen dataclass costs four times as much to make).

    ``content`` is the body's bytes, or an async iterable of them for a body streamed as it
    is produced (an upload relayed as it arrives); such a body is iterated afresh for each
    attempt, so one that can be replayed (``gatewise._multipart``) can also be retried.
    The blocking path sends bytes only."""

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes | AsyncIterable[bytes] | None = None

    def __repr__(self) -> str:  # headers hold the API key: never show them
        return f"Request(method={self.method!r}, url={self.url!r})"


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
