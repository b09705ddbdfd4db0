"""The Redis store beyond the shared suite: several processes (here: several stores, each
its own connection and incarnation) sharing one Redis exactly, one round trip per
operation, keys that expire by themselves, nothing leaked by a process that dies.  (Redis
unwell: test_redis_faults.py.)"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from gatewise.state.redis import RedisStore
from gatewise.state.ticket import (
    BudgetExceededError,
    RateLimitExceededError,
    Scope,
    Ticket,
)
from tests._services import Redis
from tests._stores import redis_settings, started

_ids = itertools.count()


def ticket(*scopes: Scope, tokens: int = 10, reserve: float = 0.0) -> Ticket:
    return Ticket(f"call-{next(_ids)}", scopes, tokens=tokens, reserve=reserve)


async def eventually(check: object, timeout: float = 20.0) -> None:
    """Poll ``check()`` (sync or async) until true, with a generous deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def command(store: RedisStore, *args: object) -> object:
    pipe = store.link.pipe
    assert pipe is not None
    return await pipe.call(*args)  # type: ignore[arg-type]


@pytest.fixture
async def pair(redis: Redis) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two processes' stores on the same Redis, under the same prefix."""
    settings = redis_settings(redis)
    a, b = await started(settings), await started(settings)
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


# -- several processes, one set of limits --------------------------------------------------

async def test_two_processes_share_a_deployments_rpm_exactly(
        pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    now = a.clock()
    outcomes = await asyncio.gather(*(
        store.acquire("d-rpm", now, rpm=10, tpm=None, tokens=1)
        for _ in range(10) for store in (a, b)))
    assert outcomes.count(True) == 10
    stats = (await b.stats(["d-rpm"], now))["d-rpm"]
    assert (stats.requests, stats.in_flight) == (10, 10)


async def test_two_processes_share_key_limits_and_budgets(
        pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    now = a.clock()
    key = Scope("key", "k-shared", rpm=5)
    outcomes = await asyncio.gather(*(
        store.acquire("d", now, rpm=None, tpm=None, tokens=1, ticket=ticket(key))
        for _ in range(5) for store in (a, b)), return_exceptions=True)
    assert outcomes.count(True) == 5
    assert sum(isinstance(o, RateLimitExceededError) for o in outcomes) == 5

    parallel = Scope("key", "k-par", parallel=2)
    held = [ticket(parallel), ticket(parallel)]
    assert await a.acquire("d", now, rpm=None, tpm=None, tokens=1, ticket=held[0])
    assert await b.acquire("d", now, rpm=None, tpm=None, tokens=1, ticket=held[1])
    with pytest.raises(RateLimitExceededError, match="parallel"):
        await a.acquire("d", now, rpm=None, tpm=None, tokens=1, ticket=ticket(parallel))
    await b.release("d", now, ticket=held[1])  # freed on b: a may take it (once Redis has
    await b.flush()  # the release: it is sent without waiting for its answer)
    assert await a.acquire("d", now, rpm=None, tpm=None, tokens=1, ticket=ticket(parallel))

    budget = Scope("key", "k-budget", max_budget=1.0)
    tickets = [ticket(budget, reserve=0.1) for _ in range(50)]
    outcomes = await asyncio.gather(*(
        (a if i % 2 else b).acquire("d", now, rpm=None, tpm=None, tokens=1, ticket=t)
        for i, t in enumerate(tickets)), return_exceptions=True)
    assert outcomes.count(True) == 10
    assert sum(isinstance(o, BudgetExceededError) for o in outcomes) == 40


async def test_a_cooldown_set_by_one_process_benches_the_deployment_for_the_other(
        pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    now = a.clock()
    for _ in range(2):
        await a.record_failure("d-cool", now)
    assert await b.record_failure("d-cool", now) == 3  # failures are counted together
    await a.set_cooldown("d-cool", now + 30)
    assert not await b.acquire("d-cool", now + 1, rpm=None, tpm=None, tokens=1)
    stats = (await b.stats(["d-cool"], now + 1))["d-cool"]
    assert stats.cooldown_until == now + 30 and stats.failures == 0
    assert await b.acquire("d-cool", now + 30, rpm=None, tpm=None, tokens=1)


async def test_the_processes_agree_on_the_time(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    seconds, micros = await command(a, "TIME")  # type: ignore[misc]
    redis_now = int(seconds) + int(micros) / 1e6
    # within a generous bound of each other and of Redis (not a timing threshold: a
    # wrong offset is off by the whole clock, or by its sign)
    assert abs(a.clock() - redis_now) < 5 and abs(a.clock() - b.clock()) < 5


# -- one round trip each ------------------------------------------------------------------

async def evalsha_calls(store: RedisStore) -> int:
    info = await command(store, "INFO", "commandstats")
    assert isinstance(info, bytes)
    for line in info.decode().splitlines():
        if line.startswith("cmdstat_evalsha:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


async def test_a_call_with_a_ticket_is_one_round_trip_in_and_one_out(redis: Redis) -> None:
    """(The release is sent without waiting for its answer; the next operation on the
    same connection is answered after it.)"""
    store = await started(redis_settings(redis))
    try:
        now = store.clock()
        scopes = (Scope("key", "k-rt", rpm=100, tpm=10_000, parallel=5, max_budget=10.0),
                  Scope("team", "t-rt", rpm=100), Scope("user", "u-rt", max_budget=5.0))
        before = await evalsha_calls(store)
        t = ticket(*scopes, reserve=0.01)
        assert await store.acquire("d-rt", now, rpm=100, tpm=100_000, tokens=10, ticket=t)
        t.cost, t.used_tokens = 0.02, 42
        await store.release("d-rt", now, latency=0.1, tokens=32, ticket=t)
        assert t.settled
        assert await evalsha_calls(store) - before == 2
        stats = (await store.stats(["d-rt"], now))["d-rt"]
        assert (stats.in_flight, stats.tokens, stats.latencies) == (0, 42, (0.1,))
    finally:
        await store.aclose()


# -- keys expire by themselves; nothing leaks ----------------------------------------------

async def test_keys_expire_by_themselves_but_a_budget_without_duration_does_not(
        redis: Redis) -> None:
    settings = redis_settings(redis)
    store = await started(settings)
    try:
        now = store.clock()
        period = int(now) + 3600
        t = ticket(Scope("key", "k-ttl", rpm=10, max_budget=5.0, period=period),
                   Scope("team", "t-forever", max_budget=5.0), reserve=0.1)
        assert await store.acquire("d-ttl", now, rpm=10, tpm=None, tokens=1, ticket=t)
        t.cost = 0.5
        await store.release("d-ttl", now, latency=0.2, ticket=t)
        await store.record_failure("d-ttl", now)
        await store.set_cooldown("d-ttl", now + 5)
        keys = await command(store, "KEYS", settings.prefix + "*")
        assert isinstance(keys, list)
        ttls = {k.decode().removeprefix(settings.prefix): await command(store, "PTTL", k)
                for k in keys}
        forever = {k for k, ttl in ttls.items() if ttl == -1}
        assert forever == {"procs", "s:team:t-forever:b:0"}, ttls
        assert ttls[f"s:key:k-ttl:b:{period}"] > 3600 * 1000  # the period, and a grace
        assert 0 < ttls[f"d:d-ttl:w:{int(now // 60)}"] <= 120_000
        assert 0 < ttls["d:d-ttl:cd"] <= 65_000
        assert float(await command(store, "GET", settings.prefix + "s:team:t-forever:b:0")
                     ) == 0.5  # type: ignore[arg-type]
    finally:
        await store.aclose()


async def test_what_a_dead_process_held_stops_counting(
        pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    now = a.clock()
    key = Scope("key", "k-dead", parallel=1, max_budget=1.0)
    assert await a.acquire("d-dead", now, rpm=None, tpm=None, tokens=1,
                           ticket=ticket(key, reserve=0.9))
    with pytest.raises(RateLimitExceededError, match="parallel"):
        await b.acquire("d-dead", now, rpm=None, tpm=None, tokens=1, ticket=ticket(key))
    assert (await b.stats(["d-dead"], now))["d-dead"].in_flight == 1
    # a dies mid-request: its last heartbeat gets older than the process TTL (30 s)
    await command(b, "ZADD", a.settings.prefix + "procs", now - 31, a.link.inc)
    assert await b.acquire("d-dead", now, rpm=None, tpm=None, tokens=1,
                           ticket=ticket(key, reserve=0.9))
    assert (await b.stats(["d-dead"], now))["d-dead"].in_flight == 1  # b's own call


async def test_a_process_that_shuts_down_leaves_at_once(redis: Redis) -> None:
    settings = redis_settings(redis)
    a, b = await started(settings), await started(settings)
    try:
        now = a.clock()
        assert await a.acquire("d-leave", now, rpm=None, tpm=None, tokens=1)
        assert (await b.stats(["d-leave"], now))["d-leave"].in_flight == 1
        await a.aclose()
        assert (await b.stats(["d-leave"], now))["d-leave"].in_flight == 0
    finally:
        await b.aclose()
