"""A streaming answer of the lean transport (an ``AsyncRawStream``).

``read_chunk`` gives everything that arrived since the last read, waiting for something if
nothing did: one read per arrival (or fewer, when the reader is slower than the upstream).
Bytes that arrived before a failure are read before the failure is raised.  The read
timeout is the longest silence while a read waits, kept by the connection's one timer.

A relay may also have each arrival handed to it at once, while its read waits (``push``):
no wake-up of the reading task per arrival, which is most of what a relayed read costs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gatewise._exceptions import APIError
from gatewise._http._errors import mapped
from gatewise._http._h1._connection import HIGH_WATER, Connection
from gatewise._http._h1._exchange import Exchange
from gatewise._http._h1._wire import Headers


class LeanStream:
    __slots__ = ("__weakref__", "_conn", "_ex", "_push", "headers", "status")

    def __init__(self, conn: Connection, ex: Exchange) -> None:
        self._conn = conn
        self._ex = ex
        self.status = ex.status
        self.headers: Mapping[str, str] = Headers(ex.head)
        self._push: Callable[[bytes], bool] | None = None
        ex.waiting = False  # the head is in: silence counts again when a read waits

    async def read_chunk(self) -> bytes:
        ex = self._ex
        if not ex.chunks:
            if not ex.complete and ex.error is None:
                conn = self._conn
                waiter = conn.wait(ex)
                ex.waiting, ex.wait_from = True, conn.loop.time()
                ex.push = self._push
                try:
                    await waiter
                finally:
                    ex.waiting = False
                    ex.push = None
            if not ex.chunks:
                if ex.error is not None:
                    raise mapped(ex.error, mid_stream=True) from ex.error
                return b""
        chunks = ex.chunks
        ex.chunks = []
        if ex.size > HIGH_WATER:
            self._conn.resume()
        ex.size = 0
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def push(self, take: Callable[[bytes], bool]) -> bool:
        """From now on, what arrives while a read waits goes to ``take`` at once (called
        from the connection's protocol callback: it must not raise), and the read waits on
        while ``take`` returns True.  When it returns False, the read returns: ``b""``
        unless more has arrived since; only ``take``'s owner can tell that from the end.
        What arrives while nobody waits is read as usual."""
        self._push = take
        return True

    async def aread(self) -> bytes:
        """The rest of the body (an error answer's, typically); a failure is told as a
        plain call's would be."""
        parts = []
        try:
            while data := await self.read_chunk():
                parts.append(data)
        except APIError:
            error = self._ex.error
            assert error is not None
            raise mapped(error) from error
        return b"".join(parts)

    def close(self) -> None:
        self._conn.abandon(self._ex)

    def __del__(self) -> None:  # dropped unclosed: free the connection all the same
        try:
            if not self._conn.loop.is_closed():
                self.close()
        except (AttributeError, RuntimeError):  # half made, or the loop is going away
            pass
