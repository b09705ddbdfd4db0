"""``Pipe``: one connection to Redis, shared by every request of a process.

The store's per-request round trips (one ``EVALSHA`` in, one out) go through here, not
through redis-py's pooled client: measured on this machine, a pooled ``evalsha`` costs
50-65 µs of the proxy's CPU (a connection checked out and back, a socket write, a read and
a timer per command) where this costs 3-6.  Commands are encoded and answers parsed by
hiredis (the C parser redis-py itself uses); the commands of one event-loop iteration go
out in one write, and Redis answers in order, so each answer resolves the oldest waiting
future.

The bounded wait is one timer per connection, not per command: it fires when the oldest
unanswered command is ``timeout`` seconds old, and then the connection is cut and every
waiting command fails with ``TimeoutError`` (an answer that would come later could not be
matched to its command any more).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from collections import deque
from collections.abc import Callable
from typing import Any, cast

import hiredis

from gatewise.state.redis.errors import auth_error
from gatewise.state.redis.settings import RedisSettings

__all__ = ["Pipe"]

OnLost = Callable[["Pipe", BaseException], None]


class Pipe(asyncio.Protocol):
    def __init__(self, timeout: float, on_lost: OnLost | None = None) -> None:
        self.timeout = timeout
        self.on_lost = on_lost
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader(replyError=hiredis.ReplyError)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._sent: deque[float] = deque()  # when each waiting command was sent
        self._out: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._lost: BaseException | None = None

    @classmethod
    async def open(cls, settings: RedisSettings, on_lost: OnLost | None = None) -> Pipe:
        """Connect, authenticate and select the database, within the connect timeout."""
        pipe = cls(settings.connect_timeout)
        loop = asyncio.get_running_loop()
        context = ssl_module.create_default_context() if settings.ssl else None
        try:
            async with asyncio.timeout(settings.connect_timeout):
                await loop.create_connection(
                    lambda: pipe, settings.host, settings.port, ssl=context,
                    server_hostname=settings.host if context else None)
                if settings.password is not None:
                    auth = (("AUTH", settings.username, settings.password) if settings.username
                            else ("AUTH", settings.password))
                    try:
                        await pipe.call(*auth)
                    except hiredis.ReplyError as exc:
                        raise auth_error(settings, str(exc)) from None
                try:
                    if settings.db:
                        await pipe.call("SELECT", settings.db)
                    await pipe.call("PING")
                except hiredis.ReplyError as exc:
                    if str(exc).startswith("NOAUTH"):
                        raise auth_error(settings, str(exc)) from None
                    raise
        except BaseException:
            pipe.close()
            raise
        pipe.timeout = settings.timeout
        pipe.on_lost = on_lost
        return pipe

    @property
    def closed(self) -> bool:
        return self._lost is not None or self._transport is None

    def call(self, *args: str | bytes | int | float) -> asyncio.Future[Any]:
        """Send a command; the future gets its answer (an error answer is raised as
        ``hiredis.ReplyError``).  Raises ``ConnectionError`` at once when the connection is
        gone."""
        return self.send(hiredis.pack_command(args))  # type: ignore[arg-type]  # (its stub)

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """:meth:`call` with the command already encoded (RESP)."""
        if self._lost is not None:
            raise ConnectionError("the connection to Redis is closed")
        future = self._loop.create_future()
        waiting = self._waiting
        if not waiting:
            self._arm()
        waiting.append(future)
        self._sent.append(self._loop.time())
        out = self._out
        out.append(command)
        if len(out) == 1:
            self._loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and self._lost is None:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _arm(self) -> None:
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(self._loop.time() + self.timeout, self._check)

    def _check(self) -> None:
        self._watchdog = None
        if not self._sent:
            return
        due = self._sent[0] + self.timeout
        if due <= self._loop.time():
            self._fail(TimeoutError(f"no answer within {self.timeout:g} s"))
        else:
            self._watchdog = self._loop.call_at(due, self._check)

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiting, sent = self._waiting, self._sent
        try:
            while (reply := reader.gets()) is not False:
                if not waiting:  # an answer nobody asked for: not a Redis we understand
                    raise hiredis.ProtocolError("unexpected answer")
                future = waiting.popleft()
                sent.popleft()
                if future.done():
                    continue
                if type(reply) is hiredis.ReplyError:
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except hiredis.HiredisError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionResetError("Redis closed the connection"))

    # -- the end -----------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        """Cut the connection: every waiting command fails with ``exc``; tell the owner."""
        if self._lost is not None:
            return
        self._lost = exc
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._transport is not None:
            self._transport.abort()
        waiting = self._waiting
        while waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no warning if its waiter was cancelled
        self._sent.clear()
        if self.on_lost is not None:
            self.on_lost(self, exc)

    def close(self) -> None:
        self._fail(ConnectionAbortedError("closed"))
