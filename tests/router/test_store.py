"""The state stores (memory and Redis, see tests/_stores.py): each operation atomic, windows
and cooldowns driven by the caller's clock."""

from __future__ import annotations

import asyncio
import threading

from gatewise.router.store import RECENT, MemoryStore, StateStore
from tests._stores import store

__all__ = ["store"]


def test_every_store_is_a_state_store(store: StateStore) -> None:
    assert isinstance(store, StateStore)


async def test_in_flight_counts_never_go_negative(store: StateStore) -> None:
    assert await store.acquire("a", 0.0, rpm=None, tpm=None, tokens=0)
    assert await store.acquire("a", 0.0, rpm=None, tpm=None, tokens=0)
    assert (await store.stats(["a"], 0.0))["a"].in_flight == 2
    for left in (1, 0, 0):
        await store.release("a", 0.0)
        assert (await store.stats(["a"], 0.0))["a"].in_flight == left
    assert (await store.stats(["a", "b"], 0.0))["b"].in_flight == 0


async def test_acquire_respects_rpm_within_the_minute_window(store: StateStore) -> None:
    assert await store.acquire("a", 10.0, rpm=2, tpm=None, tokens=5)
    assert await store.acquire("a", 20.0, rpm=2, tpm=None, tokens=5)
    assert not await store.acquire("a", 59.9, rpm=2, tpm=None, tokens=5)
    stats = (await store.stats(["a"], 59.9))["a"]
    assert (stats.requests, stats.tokens, stats.in_flight) == (2, 10, 2)
    assert await store.acquire("a", 60.0, rpm=2, tpm=None, tokens=5)  # a new window
    assert (await store.stats(["a"], 61.0))["a"].requests == 1


async def test_acquire_respects_tpm_and_lets_one_big_request_through(store: StateStore) -> None:
    assert await store.acquire("a", 0.0, rpm=None, tpm=100, tokens=500)  # fresh window
    assert not await store.acquire("a", 1.0, rpm=None, tpm=100, tokens=1)
    await store.release("a", 1.0, tokens=-480)  # the real usage was 20 tokens
    assert await store.acquire("a", 2.0, rpm=None, tpm=100, tokens=80)
    assert not await store.acquire("a", 2.0, rpm=None, tpm=100, tokens=1)


def test_memory_store_acquire_is_atomic_across_threads() -> None:
    """(The Redis store belongs to one event loop; two of its processes are tested in
    tests/state/test_redis_store.py.)"""
    store = MemoryStore()
    wins: list[bool] = []

    def worker() -> None:
        for _ in range(50):
            wins.append(asyncio.run(store.acquire("a", 1.0, rpm=100, tpm=None, tokens=1)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 100


async def test_failures_are_counted_in_a_sliding_minute(store: StateStore) -> None:
    assert await store.record_failure("a", 0.0) == 1
    assert await store.record_failure("a", 30.0) == 2
    assert await store.record_failure("a", 59.0) == 3
    assert await store.record_failure("a", 61.0) == 3  # the one at 0.0 has aged out
    assert (await store.stats(["a"], 119.5))["a"].failures == 1


async def test_cooldown_expires_keeps_the_later_end_and_clears_failures(store: StateStore) -> None:
    await store.record_failure("a", 0.0)
    await store.set_cooldown("a", 30.0)
    await store.set_cooldown("a", 20.0)  # an earlier end does not shorten it
    stats = (await store.stats(["a"], 10.0))["a"]
    assert (stats.cooldown_until, stats.failures) == (30.0, 0)
    assert (await store.stats(["a"], 30.0))["a"].cooldown_until is None


async def test_latencies_keep_the_recent_ones_apart_from_ttft(store: StateStore) -> None:
    for i in range(RECENT + 5):
        await store.record_latency("a", float(i))
    await store.record_latency("a", 0.25, first_token=True)
    stats = (await store.stats(["a"], 0.0))["a"]
    assert stats.latencies == tuple(float(i) for i in range(5, RECENT + 5))
    assert stats.ttfts == (0.25,)


async def test_acquire_reserves_and_counts_in_flight_unless_benched_or_full(
        store: StateStore) -> None:
    assert await store.acquire("a", 1.0, rpm=2, tpm=None, tokens=3)
    stats = (await store.stats(["a"], 1.0))["a"]
    assert (stats.in_flight, stats.requests, stats.tokens) == (1, 1, 3)
    await store.set_cooldown("a", 10.0)
    assert not await store.acquire("a", 5.0, rpm=2, tpm=None, tokens=3)  # cooling down
    assert await store.acquire("a", 10.0, rpm=2, tpm=None, tokens=3)  # the cooldown is over
    assert not await store.acquire("a", 11.0, rpm=2, tpm=None, tokens=3)  # rpm reached
    stats = (await store.stats(["a"], 11.0))["a"]
    assert (stats.in_flight, stats.requests) == (2, 2)


async def test_release_books_latency_and_tokens_in_one_call(store: StateStore) -> None:
    await store.acquire("a", 1.0, rpm=None, tpm=100, tokens=10)
    before = (await store.stats(["a"], 1.0))["a"]
    await store.release("a", 2.0, latency=0.5, tokens=15)  # 25 used in all
    after = (await store.stats(["a"], 2.0))["a"]
    assert before is not after  # a change is never hidden by a kept snapshot
    assert (after.in_flight, after.tokens, after.latencies, after.ttfts) == (0, 25, (0.5,), ())
    await store.acquire("a", 3.0, rpm=None, tpm=100, tokens=1)
    await store.release("a", 3.0, latency=0.25, first_token=True)
    stats = (await store.stats(["a"], 3.0))["a"]
    assert (stats.in_flight, stats.ttfts, stats.tokens) == (0, (0.25,), 26)
    assert (await store.stats(["a"], 3.0))["a"] is stats  # unchanged: the same snapshot
