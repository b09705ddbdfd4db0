"""The proxy served by uvicorn inside the test's own event loop (the CLI's server settings,
our protocol included), for tests that need the loop or uvicorn knobs the CLI keeps fixed;
and a bare-bones HTTP/1.1 exchange over asyncio streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import orjson
import uvicorn

from gatewise.proxy.app import ProxyApp
from gatewise.proxy.server import ServeOptions, _uvicorn_config


@contextlib.asynccontextmanager
async def serving(app: ProxyApp, *, keep_alive: float | None = None,
                  **options: Any) -> AsyncIterator[int]:
    """Serve ``app`` on a free port of 127.0.0.1 in the running loop; yields the port."""
    serve = replace(ServeOptions(host="127.0.0.1", port=0, log_level="warning"), **options)
    config = _uvicorn_config(app, serve)
    if keep_alive is not None:
        config.timeout_keep_alive = keep_alive  # type: ignore[assignment]
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    port: int = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def read_answer(reader: asyncio.StreamReader) -> RawAnswer:
    """One HTTP/1.1 answer with a ``content-length`` body."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawAnswer(int(status_line.split()[1]), headers, body)


def post_head(path: str, length: int, *extra: bytes) -> bytes:
    return b"".join([f"POST {path} HTTP/1.1\r\nhost: proxy\r\ncontent-type: application/json"
                     f"\r\ncontent-length: {length}\r\n".encode(),
                     *(line + b"\r\n" for line in extra), b"\r\n"])


async def until_closed(reader: asyncio.StreamReader, within: float) -> bytes | None:
    """Everything the other side sends until it closes the connection, or None if it has
    not closed it within ``within`` seconds."""
    try:
        return await asyncio.wait_for(reader.read(), within)
    except ConnectionResetError:
        return b""
    except TimeoutError:
        return None
