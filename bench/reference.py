"""The reference forwarder: the floor the proxy is measured against.

A raw ASGI app on uvicorn (uvloop + httptools) with one pooled aiohttp session.  It checks
the ``Authorization`` header against a key (as the proxy does), forwards the request body
untouched to the fixed-answer upstream and relays the answer: whole for JSON, chunk by chunk
as received for a stream.  It does no JSON work at all: a body asking for ``"stream":true``
goes to the upstream's stream path (its paced one when it names the paced model),
``/v1/embeddings`` to the embeddings path.

Run: ``python -m bench.reference --port 8100 --upstream http://127.0.0.1:8090``
(``--workers N`` for several processes sharing the port).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PACED_MODEL = "bench-paced-stream"  # a body naming it is relayed from the paced stream path
UPSTREAM_ENV = "BENCH_REFERENCE_UPSTREAM"
KEY_ENV = "BENCH_REFERENCE_KEY"
_JSON = [(b"content-type", b"application/json")]


class Reference:
    def __init__(self, upstream: str, key: str) -> None:
        self.chat = f"{upstream}/v1/chat/completions"
        self.stream = f"{upstream}/stream/v1/chat/completions"
        self.paced = f"{upstream}/paced/stream/v1/chat/completions"
        self.paced_marker = b'"model":"' + PACED_MODEL.encode() + b'"'
        self.embeddings = f"{upstream}/v1/embeddings"
        self.expected = b"Bearer " + key.encode()
        self.upstream_headers = {"Authorization": "Bearer upstream-key",
                                 "Content-Type": "application/json"}
        self.session: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        import aiohttp

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
                self.session = aiohttp.ClientSession(connector=connector,
                                                     auto_decompress=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path == "/health/readiness":
            await _answer(send, 200, b'{"status":"ready"}')
            return
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if authorization != self.expected:
            await _answer(send, 401, b'{"error":{"message":"invalid API key"}}')
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if path.endswith("/embeddings"):
            url = self.embeddings
        elif b'"stream":true' in body:
            url = self.paced if self.paced_marker in body else self.stream
        else:
            url = self.chat
        async with self.session.post(url, data=body, headers=self.upstream_headers) as resp:
            if url is self.stream or url is self.paced:
                await send({"type": "http.response.start", "status": resp.status, "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8")]})
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            else:
                await _answer(send, resp.status, await resp.read())


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*_JSON, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def factory() -> Reference:
    """For uvicorn's ``--factory`` (several workers): settings from the environment."""
    return Reference(os.environ[UPSTREAM_ENV], os.environ[KEY_ENV])


def arguments(description: str | None) -> argparse.ArgumentParser:
    """The command line the bench's own servers share (this, the ceiling, the floor)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--upstream", default="http://127.0.0.1:8090")
    parser.add_argument("--key", default="sk-bench-master-key")
    return parser


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    import uvicorn

    os.environ[UPSTREAM_ENV] = args.upstream
    os.environ[KEY_ENV] = args.key
    config = uvicorn.Config("bench.reference:factory", factory=True, host=args.host,
                            port=args.port, workers=args.workers, loop="uvloop",
                            http="httptools", lifespan="on", access_log=False,
                            log_level="warning", server_header=False)
    if args.workers <= 1:
        uvicorn.Server(config).run()
        return
    # Several workers as the proxy runs them: a listening socket each (SO_REUSEPORT).
    from uvicorn.supervisors import Multiprocess

    from gatewise.proxy.listener import PerWorkerListener

    config.backlog = PerWorkerListener.backlog
    Multiprocess(config, sockets=[PerWorkerListener.bind_to(args.host, args.port)]).run()


if __name__ == "__main__":
    main()
