"""The sync twins' engine: the router's own coroutines, run on a private event-loop thread.

One implementation of the routing logic serves both surfaces, and it works with any
``StateStore`` (a shared store will be async only).  The thread and its loop start on
the first sync call; a sync stream is a ``Stream`` whose every ``next()`` runs the async
stream's ``__anext__`` on that loop, and whose ``close()`` runs its ``aclose()`` there.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from gatewise._streaming import AsyncStream, Stream

T = TypeVar("T")
_CLEANUP_WAIT = 5.0
"""Seconds a cleanup (closing a stream, the client) may take before it is abandoned."""


class LoopThread:
    """A daemon thread running one event loop, started on first use."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def in_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop (started if need be) and wait for it; Ctrl-C cancels it."""
        if self.in_thread():
            coro.close()
            raise RuntimeError("a sync Router method was called from the router's own "
                               "event loop thread; use the async methods there")
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def stop(self, last: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run ``last`` (a cleanup), then stop the loop and its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            if last is not None:
                last.close()
            return
        try:
            if last is not None and thread.is_alive():
                asyncio.run_coroutine_threadsafe(last, loop).result(timeout=_CLEANUP_WAIT)
            elif last is not None:
                last.close()
        finally:
            if thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=_CLEANUP_WAIT)
            if not thread.is_alive():
                loop.close()

    def finish(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a cleanup on the loop if it is running: waited for from other threads, only
        started from the loop's own thread (which must not block on itself)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed() or not thread.is_alive():
            coro.close()
        elif self.in_thread():
            loop.create_task(coro)
        else:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
            with contextlib.suppress(Exception):  # a cleanup: never hang or fail on it
                future.result(timeout=_CLEANUP_WAIT)


class _Bridge(Iterator[Any]):
    __slots__ = ("_closed", "_source", "_thread")

    def __init__(self, thread: LoopThread, source: AsyncStream[Any]) -> None:
        self._thread = thread
        self._source = source
        self._closed = False

    def __next__(self) -> Any:
        if self._closed:
            raise StopIteration
        try:
            return self._thread.run(self._next())
        except StopAsyncIteration:
            self._closed = True
            raise StopIteration from None

    async def _next(self) -> Any:
        return await self._source.__anext__()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._thread.finish(self._source.aclose())


def sync_stream(thread: LoopThread, source: Any) -> Stream[Any]:
    """A blocking ``Stream`` over an ``AsyncStream`` living on ``thread``'s loop."""
    from gatewise._streaming import Stream, same

    return Stream(_Bridge(thread, source), same)
