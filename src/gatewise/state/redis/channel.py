"""``ChangeChannel``: "this identity changed" between processes, over Redis pub/sub.

Any process publishes ``(kind, ref)`` (a key's token, a team or user id...) when it changes
an identity; every other process's callbacks hear it within a round trip and drop what
they cached of it.  A process does not hear its own changes (it dropped them already).

Publishing waits at most the bounded wait and never raises: a change that cannot be
published is still found by the other processes through the database's changes table
(polled each second by the access layer).  The subscriber reconnects by itself; after a
gap -- changes may have been missed -- it tells its callbacks ``("*", "*")``: forget
everything.  A silent connection is pinged; one that does not answer is replaced.

Built on redis-py's asyncio client (one small pool per process: the subscriber's
connection and the publishers').
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from gatewise.state.redis.link import RETRY
from gatewise.state.redis.settings import RedisSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["ANYTHING", "ChangeChannel"]

logger = logging.getLogger("gatewise.state")

ANYTHING = ("*", "*")
"""What a subscriber that may have missed changes tells its callbacks."""
QUIET = 2.0
"""Seconds of silence after which the subscriber pings (and again: gives up on it)."""

Callback = Callable[[str, str], object]


class ChangeChannel:
    def __init__(self, settings: RedisSettings, *, retry: float = RETRY) -> None:
        self.settings = settings
        self.retry = retry
        self.name = f"{settings.prefix}changes"
        self.origin = os.urandom(6).hex()
        self.subscribed = False
        self._callbacks: list[Callback] = []
        self._client: Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.publishing = True
        """Whether the last change published went out."""

    def on_change(self, callback: Callback) -> None:
        """Call ``callback(kind, ref)`` for every change another process publishes."""
        self._callbacks.append(callback)

    async def start(self, *, wait: bool = True) -> None:
        """Open the pool and subscribe: waiting for the first subscription (at most the
        connect timeout) when ``wait``; the subscriber keeps trying in the background."""
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        s = self.settings
        self._client = Redis(
            host=s.host, port=s.port, db=s.db, username=s.username, password=s.password,
            ssl=s.ssl, socket_timeout=s.connect_timeout, socket_connect_timeout=s.connect_timeout,
            retry=Retry(NoBackoff(), 0))
        self._task = asyncio.get_running_loop().create_task(self._listen())
        if not wait:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(s.connect_timeout):
                await self._ready.wait()

    async def publish(self, kind: str, ref: str) -> None:
        """Tell the other processes (within the bounded wait; a failure is logged once
        until publishing works again, and :attr:`publishing` says so)."""
        client = self._client
        if client is None:
            self.publishing = False
            return
        from redis.exceptions import RedisError

        message = orjson.dumps({"o": self.origin, "k": kind, "r": ref})
        try:
            async with asyncio.timeout(self.settings.timeout):
                await client.publish(self.name, message)
        except (RedisError, OSError, TimeoutError) as exc:
            if self.publishing:
                logger.warning("shared state: cannot publish identity changes to Redis at %s "
                               "(%s); the other processes learn of them from the database",
                               self.settings.address, type(exc).__name__)
            self.publishing = False
            return
        self.publishing = True

    def _heard(self, data: Any) -> None:
        try:
            message = orjson.loads(data)
            origin, kind, ref = message["o"], message["k"], message["r"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return  # not ours
        if origin == self.origin or not isinstance(kind, str) or not isinstance(ref, str):
            return
        self._tell(kind, ref)

    def _tell(self, kind: str, ref: str) -> None:
        for callback in self._callbacks:
            try:
                callback(kind, ref)
            except Exception:
                logger.exception("shared state: a change callback failed on %s %s", kind, ref)

    async def _listen(self) -> None:
        from redis.exceptions import RedisError

        assert self._client is not None
        missed = False
        while True:
            pubsub = self._client.pubsub()
            try:
                async with asyncio.timeout(self.settings.connect_timeout):
                    await pubsub.subscribe(self.name)
                await self._read(pubsub, missed)
            except (RedisError, OSError, TimeoutError) as exc:
                if self.subscribed:
                    logger.warning("shared state: lost the changes channel on Redis at %s "
                                   "(%s); resubscribing", self.settings.address,
                                   type(exc).__name__)
                self.subscribed = False
                missed = True
            except Exception:  # a bug must not end the listening for good
                logger.exception("shared state: the changes channel failed; resubscribing")
                self.subscribed = False
                missed = True
            finally:
                with contextlib.suppress(RedisError, OSError, TimeoutError):
                    await pubsub.aclose()
            await asyncio.sleep(self.retry)

    async def _read(self, pubsub: Any, missed: bool) -> None:
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=QUIET)
            if message is None:
                if pinged:
                    raise TimeoutError("no answer to PING")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            kind = message["type"]
            if kind == "subscribe" and not self.subscribed:
                self.subscribed = True
                self._ready.set()
                if missed:  # what changed meanwhile is unknown
                    self._tell(*ANYTHING)
            elif kind == "message":
                self._heard(message["data"])

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
