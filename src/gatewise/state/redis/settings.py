"""``RedisSettings``: where the shared store lives and how it behaves when it is away.

Plain values, checked by the proxy's config (``gatewise.proxy._redis_settings``) or given
by a caller.  The password never shows: not in ``repr()``, not in :attr:`address`; errors
name the setting it came from (``password_source``), never the password itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DEFAULT_TIMEOUT", "FAILURE_MODES", "RedisSettings"]

DEFAULT_TIMEOUT = 0.1
"""Seconds a request may wait on Redis (one round trip) before the store gives up on it
and goes on with local state."""
FAILURE_MODES = ("open", "closed")


@dataclass(frozen=True, slots=True)
class RedisSettings:
    host: str = "localhost"
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    timeout: float = DEFAULT_TIMEOUT
    """The bounded wait: the longest a request waits on one round trip to Redis."""
    failure_mode: str = "open"
    """While Redis is away, ``open`` admits key limits and budgets on local accounting
    (each process its share); ``closed`` refuses them (503)."""
    prefix: str = "gatewise:"
    """Every key the store writes starts with it."""
    password_source: str = "router_settings.redis_password"
    """Which setting the password came from, for error messages."""

    @property
    def address(self) -> str:
        """``redis://host:port/db``: where it is, for logs and ``/health`` (no password)."""
        scheme = "rediss" if self.ssl else "redis"
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}/{self.db}"

    @property
    def connect_timeout(self) -> float:
        """Connecting (and the handshake) happens off the request path: it may take longer
        than a request's bounded wait, but not much (the proxy's startup waits on it)."""
        return max(self.timeout, 1.0)
