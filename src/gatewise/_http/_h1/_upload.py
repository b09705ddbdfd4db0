"""A streamed request body (``Request.content`` an async iterable) written to a connection
as fast as the upstream takes it, chunked unless the caller gave its length."""

from __future__ import annotations

from collections.abc import AsyncIterable

from gatewise._http._h1._connection import Connection
from gatewise._http._h1._exchange import Exchange
from gatewise._http._h1._wire import LAST_CHUNK, chunk


async def upload(conn: Connection, ex: Exchange, body: AsyncIterable[bytes],
                 chunked: bool) -> None:
    """Write ``body`` after the head; stops early (and the connection will not be kept)
    when the answer or an error comes first.  While the upstream takes nothing, the read
    timeout counts (the longest silence of a wait)."""
    transport = conn.transport
    assert transport is not None
    async for data in body:
        if ex.head_done or ex.error is not None or conn.closed:
            return
        if data:  # (an empty chunk would end the body)
            transport.write(chunk(data) if chunked else data)
        if conn.write_paused:
            conn.drain = conn.loop.create_future()
            ex.waiting, ex.wait_from = True, conn.loop.time()
            try:
                await conn.drain
            finally:
                conn.drain = None
                ex.waiting = False
    if not (ex.head_done or ex.error is not None or conn.closed):
        if chunked:
            transport.write(LAST_CHUNK)
        ex.sent = True  # the whole request: the connection may be kept after it
