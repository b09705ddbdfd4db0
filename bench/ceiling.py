"""The raw-asyncio ceiling: how fast a Python forwarder can go on one core at all.

The reference forwarder (``bench/reference.py``) is a Python design with its usual costs
(uvicorn, ASGI, aiohttp).  This one has none of them: an ``asyncio.Protocol`` server and a
keep-alive client protocol to the upstream, both parsing with httptools, on uvloop, all
callbacks (no task, no coroutine per request).  It checks the key, forwards the body
untouched (to the same upstream paths as the reference) and relays the answer: one
``write()`` for a whole answer, one per arrival for a stream (chunked to the client).  No
timeouts, no limits, no error handling beyond the upstream's status: a ceiling, not a
server to run.

Run: ``python -m bench.ceiling --port 8100 --upstream http://127.0.0.1:8090``
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from httptools import HttpRequestParser, HttpResponseParser

from bench.reference import PACED_MODEL, arguments

_READY = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 18\r\n\r\n" \
         b'{"status":"ready"}'
_DENIED = b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: " \
          b'40\r\n\r\n{"error":{"message":"invalid API key"}}'
_STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n" \
               b"transfer-encoding: chunked\r\n\r\n"
_FIELDS = b"Authorization: Bearer upstream-key\r\nContent-Type: application/json\r\n"
_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 429: b"Too Many Requests",
            500: b"Internal Server Error", 503: b"Service Unavailable"}


class Upstream(asyncio.Protocol):
    """One kept-alive connection to the upstream; ``on_*`` of the current exchange."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.parser = HttpResponseParser(self)
        self.transport: Any = None
        self.client: Client | None = None
        self.stream = False
        self.parts: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)
        if self.stream and self.parts and self.client is not None:  # one write an arrival
            body = b"".join(self.parts)
            self.parts = []
            self.client.write(b"%x\r\n%b\r\n" % (len(body), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.forget(self)

    def on_headers_complete(self) -> None:
        if self.stream and self.client is not None:
            self.client.write(_STREAM_HEAD)

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def on_message_complete(self) -> None:
        client, self.client = self.client, None
        status = self.parser.get_status_code()
        body = b"".join(self.parts)
        self.parts = []
        if client is not None:
            if self.stream:
                client.write((b"%x\r\n%b\r\n" % (len(body), body) if body else b"")
                             + b"0\r\n\r\n")
            else:
                client.write(client.answer(status, body))
            client.done()
        self.pool.idle.append(self)


class Pool:
    """Kept-alive upstream connections; a request without one waits for a new one."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.host_line = f"Host: {parts.netloc}\r\n".encode()
        self.idle: list[Upstream] = []
        self.waiting: deque[Callable[[Upstream], None]] = deque()

    def send(self, path: bytes, body: bytes, stream: bool, client: Client,
             fields: bytes = _FIELDS) -> None:
        """``fields``: the head's header lines but Host and Content-Length."""
        head = (b"POST %b HTTP/1.1\r\n%b%bContent-Length: %d\r\n\r\n"
                % (path, self.host_line, fields, len(body)))

        def start(conn: Upstream) -> None:
            conn.client, conn.stream = client, stream
            conn.transport.write(head + body)

        if self.idle:
            start(self.idle.pop())
        else:
            self.waiting.append(start)
            asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: Upstream(self), self.host, self.port)
        if self.waiting:
            self.waiting.popleft()(conn)
        else:
            self.idle.append(conn)

    def forget(self, conn: Upstream) -> None:
        if conn in self.idle:
            self.idle.remove(conn)


class Client(asyncio.Protocol):
    """One client connection: parse a request, forward it, relay the answer."""

    def __init__(self, app: Ceiling) -> None:
        self.app = app
        self.parser = HttpRequestParser(self)
        self.transport: Any = None
        self.url = b""
        self.key: bytes | None = None
        self.body: list[bytes] = []
        self.queue: deque[tuple[bytes, bytes | None, bytes]] = deque()
        self.busy = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.key = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def answer(self, status: int, body: bytes) -> bytes:
        """A whole answer from the upstream, as the client gets it."""
        return (b"HTTP/1.1 %d %b\r\ncontent-type: application/json\r\ncontent-length: "
                b"%d\r\n\r\n%b" % (status, _REASONS.get(status, b"Status"), len(body), body))

    def on_message_complete(self) -> None:
        self.queue.append((self.url, self.key, b"".join(self.body)))
        self.url, self.key, self.body = b"", None, []
        if not self.busy:
            self.next()

    def next(self) -> None:
        while self.queue:
            url, key, body = self.queue.popleft()
            if url == b"/health/readiness":
                self.write(_READY)
            elif key != self.app.expected:
                self.write(_DENIED)
            else:
                self.busy = True
                self.app.forward(url, body, self)
                return

    def done(self) -> None:
        self.busy = False
        self.next()


class Ceiling:
    def __init__(self, upstream: str, key: str) -> None:
        self.pool = Pool(upstream)
        self.expected = b"Bearer " + key.encode()
        self.paced_marker = b'"model":"' + PACED_MODEL.encode() + b'"'

    def forward(self, url: bytes, body: bytes, client: Client) -> None:
        if url.endswith(b"/embeddings"):
            self.pool.send(b"/v1/embeddings", body, False, client)
        elif b'"stream":true' in body:
            path = (b"/paced/stream/v1/chat/completions" if self.paced_marker in body
                    else b"/stream/v1/chat/completions")
            self.pool.send(path, body, True, client)
        else:
            self.pool.send(b"/v1/chat/completions", body, False, client)


async def serve(host: str, port: int, upstream: str, key: str,
                app_type: Callable[[str, str], Ceiling] = Ceiling,
                client_type: type[Client] = Client) -> None:
    app = app_type(upstream, key)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: client_type(app), host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    args = arguments(__doc__).parse_args()
    import uvloop

    uvloop.run(serve(args.host, args.port, args.upstream, args.key))


if __name__ == "__main__":
    main()
