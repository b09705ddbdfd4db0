"""``Records``: what every operation of the Redis store shares -- the link, the script, one
round trip or local state when Redis is away -- and the deployment's records: failures,
cooldowns, latencies and snapshots (the store's operations besides a call's way in and
out, in ``store.py``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import hiredis

from gatewise.router.store import DeploymentStats
from gatewise.state.redis.clock import SharedClock
from gatewise.state.redis.errors import ERRORS
from gatewise.state.redis.link import Link
from gatewise.state.redis.local import Fallback
from gatewise.state.redis.pipe import Pipe
from gatewise.state.redis.script import NONE, Commands, Script
from gatewise.state.redis.settings import RedisSettings

__all__ = ["LOST", "Records"]

LOST: Any = object()
"""What a round trip gives when Redis is away (the store goes on locally)."""
COOLDOWN_GRACE = 60.0


class Records:
    def __init__(self, settings: RedisSettings, clock: SharedClock, *, expected_peers: int,
                 heartbeat: float, retry: float) -> None:
        self.settings = settings
        self.clock = clock
        """The agreed clock: give it to the router (``Router(clock=store.clock)``)."""
        self._script = Script()
        self.link = Link(settings, clock, self._script, expected_peers=expected_peers,
                         heartbeat=heartbeat, retry=retry)
        self.fallback = Fallback()
        self._prefix = settings.prefix.encode()
        self._commands = Commands(self._script.sha, self._prefix)
        self._snapshots: dict[str, DeploymentStats] = {}
        self._members = itertools.count()

    async def _eval(self, pipe: Pipe, command: bytes) -> Any:
        """One operation (encoded by ``self._commands``): its answer, or ``LOST`` (Redis is
        away: the store is local now)."""
        try:
            return await pipe.send(command)
        except ERRORS as exc:
            if isinstance(exc, hiredis.ReplyError) and str(exc).startswith("NOSCRIPT"):
                # Redis lost its scripts without dropping the connection (SCRIPT FLUSH).
                try:
                    await pipe.call("SCRIPT", "LOAD", self._script.text)
                    return await pipe.send(command)
                except ERRORS as again:
                    exc = again
            self.link.lost(pipe, exc)
            return LOST

    # -- failures, cooldowns, latencies, snapshots -------------------------------------

    async def record_failure(self, deployment_id: str, now: float) -> int:
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            member = b"%s:%d" % (link.inc, next(self._members))
            count = await self._eval(pipe, self._commands.generic(
                b"failure", now, link.inc, deployment_id, member))
            if count is not LOST:
                return int(count)
        return await self.fallback.memory.record_failure(deployment_id, now)

    async def set_cooldown(self, deployment_id: str, until: float) -> None:
        # Kept locally too: a cooldown still holds if Redis goes away during it.
        await self.fallback.memory.set_cooldown(deployment_id, until)
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            now = self.clock()
            lifetime = int((max(0.0, until - now) + COOLDOWN_GRACE) * 1000)
            await self._eval(pipe, self._commands.generic(
                b"cooldown", now, link.inc, deployment_id, until, lifetime))

    async def record_latency(self, deployment_id: str, seconds: float, *,
                             first_token: bool = False) -> None:
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            done = await self._eval(pipe, self._commands.generic(
                b"latency", self.clock(), link.inc, deployment_id, max(0.0, seconds),
                b"1" if first_token else NONE))
            if done is not LOST:
                return
        await self.fallback.memory.record_latency(deployment_id, seconds,
                                                  first_token=first_token)

    async def stats(self, deployment_ids: Sequence[str], now: float
                    ) -> dict[str, DeploymentStats]:
        link = self.link
        pipe = link.pipe
        if pipe is not None:
            rows = await self._eval(pipe, self._commands.generic(
                b"stats", now, link.inc, *deployment_ids))
            if rows is not LOST:
                return {i: self._snapshot(i, row)
                        for i, row in zip(deployment_ids, rows, strict=True)}
        return await self.fallback.memory.stats(deployment_ids, now)

    def _snapshot(self, deployment_id: str, row: list[Any]) -> DeploymentStats:
        """A snapshot from the script's row; the last one when nothing changed (as the
        memory store: strategies may keep what they worked out from it)."""
        cooldown, requests, tokens, in_flight, latencies, ttfts, failures = row
        stats = DeploymentStats(
            in_flight=in_flight, latencies=tuple(float(x) for x in latencies),
            ttfts=tuple(float(x) for x in ttfts), requests=requests, tokens=tokens,
            cooldown_until=None if cooldown is None else float(cooldown), failures=failures)
        known = self._snapshots.get(deployment_id)
        if known == stats:
            return known
        self._snapshots[deployment_id] = stats
        return stats
