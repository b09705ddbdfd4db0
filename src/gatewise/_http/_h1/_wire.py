"""HTTP/1.1 on the wire, both ways: where a URL goes, a request's head, chunked framing,
and a response's headers as a mapping whose names ignore case."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from gatewise._http._h1._exchange import header_pairs

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
"""Methods a server must accept twice (RFC 9110 9.2.2): resent when a kept-alive
connection turns out to be closed (see ``_transport``), as aiohttp and Go's client do."""

# Request headers the transport writes itself (Host), or sets from the body it is given.
_OWN = frozenset({"host", "content-length", "transfer-encoding"})


class Origin(NamedTuple):
    scheme: str
    host: str  # as in the URL, without brackets
    port: int


class Route(NamedTuple):
    """Where one URL goes: its origin, the request target, and the ``Host`` line."""

    origin: Origin
    target: str
    host_line: str


def route_of(url: str) -> Route:
    """Split ``url``; raises ValueError for anything but an absolute http(s) URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not supported: send them in a header")
    default = 443 if scheme == "https" else 80
    port = parts.port or default  # ValueError for a port out of range
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    if port != default:
        shown = f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Route(Origin(scheme, host, port), target, f"Host: {shown}\r\n")


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


CACHED_LENGTH = -1
"""``encode_head``'s length for a head to be kept and reused: without its Content-Length
line and the blank line that ends it (added for each request)."""


def encode_head(method: str, route: Route, headers: Mapping[str, str],
                length: int | None) -> bytes:
    """The request line and headers; ``length`` is the body's size (``CACHED_LENGTH``: to
    be added later), or None for a streamed body: chunked unless ``headers`` give a
    Content-Length.  Raises ValueError when a name or value would break the head (a line
    break in it)."""
    lines = [f"{method} {route.target} HTTP/1.1\r\n"]
    caller_length = False
    own_host = False
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _OWN:
            if lowered == "host":
                own_host = True
            elif lowered == "content-length" and length is None:
                caller_length = True  # a streamed body of a size the caller knows
            else:
                continue  # the transport frames the body it is given
        lines.append(f"{name}: {value}\r\n")
    if not own_host:
        lines.append(route.host_line)
    if length is None:
        if not caller_length:
            lines.append("Transfer-Encoding: chunked\r\n")
        lines.append("\r\n")
    elif length >= 0:
        lines.append(f"Content-Length: {length}\r\n\r\n")
    head = "".join(lines)
    # One C-level count rather than a check of every name and value: a CR or LF inside
    # one adds to the line breaks of the lines themselves.
    breaks = len(lines) + (length is not None and length >= 0)
    if head.count("\n") != breaks or head.count("\r") != breaks:
        raise ValueError("a request header holds a line break")
    return head.encode("utf-8")


def is_chunked(head: bytes) -> bool:
    """Whether :func:`encode_head` framed the body as chunks."""
    return head.endswith(b"\r\nTransfer-Encoding: chunked\r\n\r\n")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


class Headers(Mapping[str, str]):
    """A response's headers, names lower-cased, read from its head the first time they are
    looked at (most answers are relayed without a look).  A repeated header's values are
    joined with ``", "``."""

    __slots__ = ("_head", "_map")

    def __init__(self, head: bytes) -> None:
        self._head = head
        self._map: dict[str, str] | None = None

    def _built(self) -> dict[str, str]:
        found = self._map
        if found is None:
            found = {}
            for name, value in header_pairs(self._head):
                key = name.decode("latin-1").lower()
                text = value.decode("latin-1")
                found[key] = f"{found[key]}, {text}" if key in found else text
            self._map = found
        return found

    def __getitem__(self, name: str) -> str:
        return self._built()[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._built()

    def __iter__(self) -> Iterator[str]:
        return iter(self._built())

    def __len__(self) -> int:
        return len(self._built())

    def __repr__(self) -> str:
        return f"Headers({self._built()!r})"
