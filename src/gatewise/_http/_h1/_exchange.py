"""The answer of one request as it arrives on a connection (``_connection``), and what its
headers say about its body: how it is framed, how it is encoded, how long the connection
may be kept after it."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any

MAX_HEAD = 65536
"""Bytes an answer's head may take (its status line and headers)."""
_WATCHED = (b"-encoding", b"keep-alive:")
"""What a lower-cased head holds when it may have a header that changes how the answer is
read (``Content-Encoding``, ``Keep-Alive``; ``Transfer-Encoding`` too, harmlessly): only
then is it split into its headers as it arrives.  The parser hands over none one by one:
a call less for each of an answer's headers (a score of them from Mistral's gateway)."""


class UpstreamClosed(ConnectionError):
    """The upstream closed the connection before its answer was complete."""


class Exchange:
    """One request's answer as it arrives."""

    __slots__ = ("chunks", "complete", "decoder", "discarded", "drain_timer", "encoding",
                 "error", "got_bytes", "head", "head_done", "head_only", "keep_alive",
                 "pending", "push", "read_timeout", "reusable", "sent", "size", "status",
                 "streaming", "wait_from", "waiter", "waiting", "written")

    def __init__(self, read_timeout: float | None, streaming: bool, head_only: bool,
                 now: float) -> None:
        self.read_timeout = read_timeout
        self.streaming = streaming  # each arrival wakes a waiting read (else: the end does)
        self.head_only = head_only  # a HEAD request: no body will follow the head
        self.status = 0
        self.head = b""  # the answer's head as it came: its status line and headers
        self.pending = b""  # what arrived of the head so far (and maybe more)
        self.chunks: list[bytes] = []  # body pieces not read yet
        self.size = 0  # their bytes
        self.head_done = False
        self.complete = False
        self.error: BaseException | None = None
        self.keep_alive: float | None = None  # the upstream's Keep-Alive: timeout=N
        self.reusable = False  # the answer allows another on its connection
        self.encoding = b""  # its Content-Encoding
        self.decoder: Any = None  # a zlib decompressor when that is gzip or deflate
        self.got_bytes = False  # anything of the answer arrived (see the retry rule)
        self.written = False  # some of the request was handed to the socket
        self.sent = False  # all of it was
        self.discarded = False  # closed by its reader before the end: being drained
        self.waiter: asyncio.Future[None] | None = None
        # While a stream's read waits: where each arrival goes at once (see LeanStream.push)
        self.push: Callable[[bytes], bool] | None = None
        self.waiting = True  # someone waits for bytes: silence counts against the timeout
        self.wait_from = now
        self.drain_timer: asyncio.TimerHandle | None = None  # see Connection.abandon

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def fail(self, error: BaseException) -> None:
        if self.error is None and not self.complete:
            self.error = error
        self.wake()


def decoder_for(encoding: bytes) -> Any:
    """A decompressor for a ``Content-Encoding`` this transport reads (gzip, deflate), or
    None: the body is handed over as it came."""
    if encoding in (b"gzip", b"x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if encoding == b"deflate":
        return Deflate()
    return None


def header_pairs(head: bytes) -> list[tuple[bytes, bytes]]:
    """The headers of an answer's ``head`` (one the parser has read, which refuses any
    line it could not split so), the status line left out: names as they came, values
    without their surrounding blanks."""
    pairs: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n")[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        pairs.append((name, value.strip(b" \t")))
    return pairs


def head_end(data: bytes) -> int:
    """Where the head that ``data`` starts with ends (its blank line's end), for a head the
    parser has read whole (which holds every line to end in CRLF)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise UpstreamClosed("the upstream's answer head could not be read")
    return end + 4


def read_head(ex: Exchange, head: bytes) -> None:
    """Note what the head says about how the body is encoded and how long the connection
    may be kept (it seldom says either: the head is split into its headers only then)."""
    ex.head = head
    lowered = head.lower()
    if _WATCHED[0] in lowered or _WATCHED[1] in lowered:
        for name, value in header_pairs(head):
            watch(ex, name.lower(), value)


def framed(head: bytes) -> bool:
    """Whether the body has a length (Content-Length, or chunks), rather than ending with
    the connection."""
    for name, value in header_pairs(head):
        lowered = name.lower()
        if lowered == b"content-length" or (lowered == b"transfer-encoding"
                                            and b"chunked" in value.lower()):
            return True
    return False


def watch(ex: Exchange, name: bytes, value: bytes) -> None:
    """Note the headers that say how the body is encoded and how long it may be kept."""
    if name == b"content-encoding":
        ex.encoding = value.strip().lower()
    elif name == b"keep-alive":
        for part in value.split(b","):
            key, _, number = part.strip().partition(b"=")
            if key.lower() == b"timeout" and number.strip().isdigit():
                ex.keep_alive = float(number.strip())


class Deflate:
    """``Content-Encoding: deflate``: zlib-wrapped as the RFC says, or raw as some servers
    send it (told apart by the first bytes)."""

    __slots__ = ("_inner",)

    def __init__(self) -> None:
        self._inner: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return bytes(self._inner.decompress(data))

    def flush(self) -> bytes:
        return bytes(self._inner.flush()) if self._inner is not None else b""
