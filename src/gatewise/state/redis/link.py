"""``Link``: the store's connection to Redis and its life.

It connects (bounded: the proxy starts whether or not Redis answers), beats (every
:data:`HEARTBEAT` seconds: this process is alive, how many are, and Redis's clock for the
:class:`~gatewise.state.redis.clock.SharedClock`), and when the connection is lost --
a round trip failed or timed out, Redis closed it, a heartbeat got no answer -- it drops
it at once (every request then goes on with local state, without waiting) and reconnects
in the background every :data:`RETRY` seconds.  Each transition is logged once: connected,
unreachable at start, lost, back; a reconnect that keeps failing the same way says nothing
more.

Every connection is a new *incarnation* (a random id): the in-flight counts, parallel
counts and budget reservations a process holds in Redis are filed under it, and count only
while it beats.  A process that dies stops beating and what it held stops counting
:data:`PROCESS_TTL` seconds later; a process that loses its connection retires its old
incarnation as it comes back (a round trip that timed out may or may not have run, so
what it held is unknown: it is dropped, not guessed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gatewise.state.redis.errors import ERRORS, AuthError, describe
from gatewise.state.redis.pipe import Pipe
from gatewise.state.redis.script import Script
from gatewise.state.redis.settings import RedisSettings

__all__ = ["HEARTBEAT", "PROCESS_TTL", "RETRY", "Link"]

logger = logging.getLogger("gatewise.state")

HEARTBEAT = 5.0
PROCESS_TTL = 30.0  # as in state.lua
RETRY = 1.0

OnUp = Callable[[Pipe], Awaitable[None]]


def _incarnation() -> bytes:
    return os.urandom(6).hex().encode()


class Link:
    def __init__(self, settings: RedisSettings, clock: Any, script: Script, *,
                 expected_peers: int = 1, heartbeat: float = HEARTBEAT,
                 retry: float = RETRY) -> None:
        self.settings = settings
        self.clock = clock
        self.script = script
        self.heartbeat = heartbeat
        self.retry = retry
        self.pipe: Pipe | None = None
        """The live connection, None while Redis is away."""
        self.inc = _incarnation()
        self.peers = max(1, expected_peers)
        """Processes sharing the store at the last heartbeat (before any: the workers this
        one was started with): each one's share of a limit while Redis is away."""
        self.latency: float | None = None
        """The last heartbeat's round trip, seconds."""
        self.errors = 0
        """Round trips and connection attempts that failed (for metrics)."""
        self.error: str | None = None
        self.down_since: float | None = None
        self.refused = False
        """Whether the last attempt failed on the credentials."""
        self.on_up: OnUp | None = None
        """Called with the new connection before requests use it (the store's debts)."""
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    @property
    def connected(self) -> bool:
        return self.pipe is not None

    async def start(self) -> bool:
        """Connect once (bounded by the connect timeout), then keep the link in the
        background.  Never raises for Redis's sake: False when it is away."""
        connected = await self._connect()
        where = self.settings.address
        meanwhile = (f"this process keeps limits, budgets and cooldowns itself (its "
                     f"1/{self.peers} share of each; redis_failure_mode: "
                     f"{self.settings.failure_mode}), retrying every {self.retry:g} s")
        if connected:
            logger.info("shared state: Redis at %s (limits exact across processes)", where)
        elif self.refused:
            logger.error("shared state: Redis at %s %s; until it accepts, %s", where,
                         self.error, meanwhile)
        else:
            logger.warning("shared state: Redis at %s is unreachable (%s); until it answers, "
                           "%s", where, self.error, meanwhile)
        self._task = asyncio.get_running_loop().create_task(self._keep())
        return connected

    def lost(self, pipe: Pipe, exc: BaseException) -> None:
        """``pipe`` failed (a round trip, or the connection itself): go local now, reconnect
        in the background."""
        if pipe is not self.pipe:
            return
        self.errors += 1
        self.pipe = None
        self.down_since = time.time()
        self.error = describe(exc, self.settings)
        pipe.close()
        if not self._closed:
            logger.warning("shared state: lost Redis at %s (%s); this process goes on with "
                           "local state (redis_failure_mode: %s) and reconnects",
                           self.settings.address, self.error, self.settings.failure_mode)
        self._wake.set()

    async def _connect(self) -> bool:
        settings = self.settings
        try:
            pipe = await Pipe.open(settings, on_lost=self.lost)
        except ERRORS as exc:
            self._failed(exc)
            return False
        new, old = _incarnation(), self.inc
        try:
            script = self.script
            loaded = pipe.call("SCRIPT", "LOAD", script.text)
            now = self.clock()
            retired = pipe.call("EVALSHA", script.sha, 0, "leave", settings.prefix, now, new,
                                old)
            sent = time.time()
            beat = pipe.call("EVALSHA", script.sha, 0, "beat", settings.prefix, now, new)
            await loaded
            await retired
            self._beaten(await beat, sent)
            self.inc = new
            if self.on_up is not None:
                await self.on_up(pipe)
        except ERRORS as exc:
            pipe.close()
            self._failed(exc)
            return False
        if pipe.closed:
            return False
        self.pipe = pipe
        self.error = None
        self.refused = False
        return True

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        reason = describe(exc, self.settings)
        self.refused = isinstance(exc, AuthError)
        if self.down_since is None:
            self.down_since = time.time()
        if reason != self.error and self._task is not None:  # a new way of failing
            if self.refused:
                logger.error("shared state: Redis at %s %s", self.settings.address, reason)
            else:
                logger.warning("shared state: Redis at %s still unreachable: %s",
                               self.settings.address, reason)
        self.error = reason

    def _beaten(self, reply: list[Any], sent: float) -> None:
        received = time.time()
        self.peers = max(1, int(reply[0]))
        self.latency = received - sent
        self.clock.measured(int(reply[1]), int(reply[2]), sent, received)

    async def _beat(self, pipe: Pipe) -> None:
        sent = time.time()
        try:
            reply = await pipe.call("EVALSHA", self.script.sha, 0, "beat",
                                    self.settings.prefix, self.clock(), self.inc)
        except ERRORS as exc:
            self.lost(pipe, exc)
            return
        self._beaten(reply, sent)

    async def _keep(self) -> None:
        while not self._closed:
            try:
                await self._keep_once()
            except Exception:  # a bug must not end the reconnecting for good
                logger.exception("shared state: the Redis link failed; going on")
                await asyncio.sleep(self.retry)

    async def _keep_once(self) -> None:
        """Reconnect once (after a pause) while away; else beat after a pause (or at once
        when woken by a loss)."""
        pipe = self.pipe
        if pipe is None:
            await asyncio.sleep(self.retry)
            if self._closed:
                return
            down = self.down_since
            if await self._connect():
                away = f" after {time.time() - down:.1f} s" if down else ""
                self.down_since = None
                logger.warning("shared state: Redis at %s answers again%s; limits are "
                               "shared again", self.settings.address, away)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.heartbeat):
                await self._wake.wait()
        self._wake.clear()
        if self.pipe is pipe and not self._closed:
            await self._beat(pipe)

    async def aclose(self) -> None:
        """Stop, and retire this incarnation (what it holds stops counting at once)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pipe, self.pipe = self.pipe, None
        if pipe is not None:
            with contextlib.suppress(*ERRORS):
                await pipe.call("EVALSHA", self.script.sha, 0, "leave", self.settings.prefix,
                                self.clock(), self.inc, self.inc)
            pipe.close()
