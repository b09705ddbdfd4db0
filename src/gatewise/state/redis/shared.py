"""``SharedState``: what a proxy process keeps in Redis, built with the app and started in
its lifespan: the store (router and admission), the agreed clock, the change channel."""

from __future__ import annotations

import time
from typing import Any

from gatewise.state.redis.channel import ChangeChannel
from gatewise.state.redis.errors import ERRORS
from gatewise.state.redis.settings import RedisSettings
from gatewise.state.redis.store import RedisStore

__all__ = ["SharedState"]


class SharedState:
    def __init__(self, settings: RedisSettings, *, workers: int = 1) -> None:
        self.settings = settings
        self.store = RedisStore(settings, expected_peers=workers)
        self.clock = self.store.clock
        self.channel = ChangeChannel(settings)

    async def start(self) -> None:
        """Connect (bounded: the proxy starts whether Redis answers or not)."""
        connected = await self.store.start()
        await self.channel.start(wait=connected)

    async def aclose(self) -> None:
        await self.channel.aclose()
        await self.store.aclose()

    async def health(self) -> dict[str, Any]:
        """For ``/health``: connected, the latency of a round trip now, whether requests run
        on local state, and why."""
        link = self.store.link
        latency = None
        pipe = link.pipe
        if pipe is not None:
            sent = time.perf_counter()
            try:
                await pipe.call("PING")
                latency = round((time.perf_counter() - sent) * 1000, 3)
            except ERRORS as exc:
                link.lost(pipe, exc)
        down = link.down_since
        return {
            "backend": "redis", "address": self.settings.address,
            "connected": link.connected, "fallback_active": not link.connected,
            "failure_mode": self.settings.failure_mode, "latency_ms": latency,
            "processes": link.peers, "error": link.error,
            "down_for_seconds": None if down is None else round(time.time() - down, 1),
            "changes_channel": "subscribed" if self.channel.subscribed else "reconnecting",
        }
