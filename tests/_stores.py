"""The state stores the store suites run against (one suite, every implementation): the
in-process ``MemoryStore`` and the ``RedisStore`` on a real redis-server."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

from gatewise.router.store import MemoryStore, StateStore
from tests._services import Redis

if TYPE_CHECKING:
    from gatewise.state.redis import RedisSettings, RedisStore

_prefixes = itertools.count()


def redis_settings(server: Redis, **fields: Any) -> RedisSettings:
    """Settings for ``server`` under a key prefix of their own (the tests share a server)."""
    from gatewise.state.redis import RedisSettings

    fields.setdefault("prefix", f"test{next(_prefixes)}:")
    fields.setdefault("timeout", 1.0)  # a loaded machine is not a Redis that is away
    return RedisSettings(host="127.0.0.1", port=server.port, **fields)


async def started(settings: RedisSettings, **options: Any) -> RedisStore:
    from gatewise.state.redis import RedisStore

    store = RedisStore(settings, **options)
    assert await store.start(), store.link.error
    return store


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    shared = await started(redis_settings(request.getfixturevalue("redis")))
    try:
        yield shared
    finally:
        await shared.aclose()
