"""The change channel: identity changes published by one process reach the others' callbacks
(not its own), publishing never hangs on a Redis that is away, and a subscriber that lost
its connection comes back by itself and says it may have missed changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from gatewise.state.redis import ChangeChannel, RedisSettings
from tests._net import refused_port
from tests._services import Redis, redis_server
from tests._stores import redis_settings


async def eventually(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.02)


def listening(channel: ChangeChannel) -> list[tuple[str, str]]:
    heard: list[tuple[str, str]] = []
    channel.on_change(lambda kind, ref: heard.append((kind, ref)))
    return heard


@pytest.fixture
async def own_redis() -> AsyncIterator[Redis]:
    with redis_server() as server:
        yield server


async def test_a_change_reaches_the_other_processes_not_its_own(redis: Redis) -> None:
    settings = redis_settings(redis)
    a, b, c = ChangeChannel(settings), ChangeChannel(settings), ChangeChannel(settings)
    heard = {name: listening(channel) for name, channel in zip("abc", (a, b, c), strict=True)}
    for channel in (a, b, c):
        await channel.start()
    try:
        assert a.subscribed and b.subscribed and c.subscribed
        await a.publish("key", "9f2c")
        assert a.publishing
        await eventually(lambda: heard["b"] and heard["c"])
        assert heard["b"] == heard["c"] == [("key", "9f2c")]
        await b.publish("team", "t-1")
        await eventually(lambda: len(heard["a"]) == 1 and len(heard["c"]) == 2)
        assert heard["a"] == [("team", "t-1")] and heard["b"] == [("key", "9f2c")]
    finally:
        for channel in (a, b, c):
            await channel.aclose()


async def test_publishing_to_a_redis_that_is_away_returns_at_once(
        caplog: pytest.LogCaptureFixture) -> None:
    channel = ChangeChannel(RedisSettings(host="127.0.0.1", port=refused_port()))
    await channel.start()
    try:
        assert not channel.subscribed
        async with asyncio.timeout(10):  # bounded; a hang fails the test
            await channel.publish("key", "a")
            await channel.publish("key", "b")
        assert not channel.publishing
        said = [r.message for r in caplog.records if "cannot publish" in r.message]
        assert len(said) == 1  # once, not per change
    finally:
        await channel.aclose()


async def test_a_subscriber_comes_back_and_says_it_may_have_missed_changes(
        own_redis: Redis) -> None:
    settings = redis_settings(own_redis)
    a, b = ChangeChannel(settings, retry=0.1), ChangeChannel(settings, retry=0.1)
    heard = listening(b)
    await a.start()
    await b.start()
    try:
        own_redis.stop()
        await eventually(lambda: not b.subscribed)
        own_redis.start()
        await eventually(lambda: b.subscribed)
        assert heard == [("*", "*")]  # forget everything: changes may have been missed
        await eventually(lambda: a.subscribed)
        await a.publish("user", "u-7")
        await eventually(lambda: len(heard) == 2)
        assert heard[1] == ("user", "u-7")
    finally:
        await a.aclose()
        await b.aclose()
