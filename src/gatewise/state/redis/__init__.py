"""Shared live state on Redis (or Valkey): the router's store with admission tickets, the
clock the processes agree on, and identity changes between processes.

::

    settings.py  RedisSettings: where, the bounded wait, the failure mode (no password shown)
    store.py     RedisStore: the StateStore, one EVALSHA of state.lua per operation
    records.py   what its operations share; failures, cooldowns, latencies, snapshots
    state.lua    the operations, atomic on Redis (the memory store's semantics)
    script.py    the script, and the arguments and answers of admission tickets
    pipe.py      one multiplexed connection per process (hiredis), bounded waits
    link.py      connecting, heartbeats, incarnations, reconnecting, logging transitions
    local.py     the local state used while Redis is away, and the way back
    clock.py     SharedClock: local time plus the offset to Redis's TIME
    channel.py   ChangeChannel: pub/sub of identity changes (redis-py)
    shared.py    SharedState: the three above as the proxy uses them
    errors.py    errors without secrets; the 503 of redis_failure_mode: closed

Nothing here is imported by ``import gatewise`` or by a proxy without Redis configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatewise.state.redis.channel import ChangeChannel
    from gatewise.state.redis.clock import SharedClock
    from gatewise.state.redis.errors import SharedStateUnavailableError
    from gatewise.state.redis.settings import RedisSettings
    from gatewise.state.redis.shared import SharedState
    from gatewise.state.redis.store import RedisStore

__all__ = ["ChangeChannel", "RedisSettings", "RedisStore", "SharedClock", "SharedState",
           "SharedStateUnavailableError"]

_WHERE = {"ChangeChannel": "channel", "RedisSettings": "settings", "RedisStore": "store",
          "SharedClock": "clock", "SharedState": "shared",
          "SharedStateUnavailableError": "errors"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
