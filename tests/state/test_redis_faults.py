"""The Redis store when Redis is not well: away at start, lost mid-run, frozen, never
answering, or refusing the password.  Requests never wait on it longer than the bounded
wait, go on with local state (``open``) or are refused (``closed``), and the store comes
back by itself, paying what was spent meanwhile."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from gatewise.state.redis import RedisSettings, RedisStore, SharedStateUnavailableError
from gatewise.state.ticket import RateLimitExceededError, Scope, Ticket
from tests._net import refused_port, silent_server
from tests._services import Redis, redis_server
from tests._stores import redis_settings, started

_ids = itertools.count()


def ticket(*scopes: Scope, tokens: int = 10, reserve: float = 0.0) -> Ticket:
    return Ticket(f"call-{next(_ids)}", scopes, tokens=tokens, reserve=reserve)


async def eventually(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.05)


async def command(store: RedisStore, *args: object) -> object:
    pipe = store.link.pipe
    assert pipe is not None
    return await pipe.call(*args)  # type: ignore[arg-type]


# -- Redis away, and back -----------------------------------------------------------------

@pytest.fixture
async def own_redis() -> AsyncIterator[Redis]:
    """A redis-server of the test's own, to stop, freeze and restart."""
    with redis_server() as server:
        yield server


async def test_redis_lost_mid_run_goes_local_then_resumes_and_pays_its_debts(
        own_redis: Redis) -> None:
    settings = redis_settings(own_redis, timeout=0.5)
    store = await started(settings, retry=0.1)
    try:
        now = store.clock()
        key = Scope("key", "k-away", max_budget=10.0)
        before = ticket(key, reserve=0.1)
        assert await store.acquire("d-away", now, rpm=None, tpm=None, tokens=1, ticket=before)
        own_redis.stop()
        # the next operation finds it gone, and every one goes on locally
        during = ticket(key, reserve=0.1)
        assert await store.acquire("d-away", now, rpm=None, tpm=None, tokens=1, ticket=during)
        assert store.fallback_active and store.link.error
        before.cost, during.cost = 1.0, 2.0
        await store.release("d-away", now, ticket=before)
        await store.release("d-away", now, ticket=during)
        assert before.settled and during.settled
        own_redis.start()
        await eventually(lambda: not store.fallback_active)
        spend = await command(store, "GET", settings.prefix + "s:key:k-away:b:0")
        assert float(spend) == 3.0  # type: ignore[arg-type]  # paid when it came back
        # and it is shared again
        assert await store.acquire("d-away", store.clock(), rpm=None, tpm=None, tokens=1)
        assert (await store.stats(["d-away"], store.clock()))["d-away"].in_flight == 1
    finally:
        await store.aclose()


async def test_a_redis_that_stops_answering_costs_a_request_the_bounded_wait_only(
        own_redis: Redis) -> None:
    store = await started(redis_settings(own_redis, timeout=0.2), retry=0.1)
    os.kill(own_redis.process.pid, signal.SIGSTOP)
    try:
        async with asyncio.timeout(10):  # a hang fails the test; it takes ~0.2 s
            assert await store.acquire("d-stop", store.clock(), rpm=None, tpm=None, tokens=1)
        assert store.fallback_active and "no answer within 0.2 s" in (store.link.error or "")
        async with asyncio.timeout(10):  # the next ones do not wait at all
            for _ in range(20):
                assert await store.acquire("d-stop", store.clock(), rpm=None, tpm=None,
                                           tokens=1)
        os.kill(own_redis.process.pid, signal.SIGCONT)
        await eventually(lambda: not store.fallback_active)
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
        await store.aclose()


async def test_a_server_that_never_answers_at_start() -> None:
    with silent_server() as port:
        settings = RedisSettings(host="127.0.0.1", port=port, timeout=0.1)
        store = RedisStore(settings, retry=0.1)
        try:
            async with asyncio.timeout(10):
                assert not await store.start()  # bounded by the connect timeout (1 s)
                assert await store.acquire("d", store.clock(), rpm=None, tpm=None, tokens=1)
            assert "no answer" in (store.link.error or "")
        finally:
            await store.aclose()


async def test_redis_away_at_start_then_there(own_redis: Redis) -> None:
    own_redis.stop()
    store = RedisStore(redis_settings(own_redis), retry=0.1)
    try:
        assert not await store.start()
        assert store.link.error == "connection refused"
        assert await store.acquire("d", store.clock(), rpm=1, tpm=None, tokens=1)
        assert not await store.acquire("d", store.clock(), rpm=1, tpm=None, tokens=1)
        own_redis.start()
        await eventually(lambda: not store.fallback_active)
        assert await store.acquire("d", store.clock(), rpm=1, tpm=None, tokens=1)
    finally:
        await store.aclose()


async def test_failure_mode_closed_refuses_tickets_while_redis_is_away() -> None:
    settings = RedisSettings(host="127.0.0.1", port=refused_port(), failure_mode="closed")
    store = RedisStore(settings)
    try:
        assert not await store.start()
        with pytest.raises(SharedStateUnavailableError) as refused:
            await store.acquire("d", store.clock(), rpm=None, tpm=None, tokens=1,
                                ticket=ticket(Scope("key", "k", rpm=10)))
        assert refused.value.status_code == 503
        assert "redis_failure_mode is closed" in refused.value.message
        assert "connection refused" in refused.value.message
        # the deployment's own limits are still kept, locally
        assert await store.acquire("d", store.clock(), rpm=None, tpm=None, tokens=1)
    finally:
        await store.aclose()


async def test_failure_mode_open_keeps_this_processs_share_of_each_limit() -> None:
    settings = RedisSettings(host="127.0.0.1", port=refused_port())
    store = RedisStore(settings, expected_peers=2)  # e.g. two workers, Redis away
    try:
        assert not await store.start()
        now = store.clock()
        served = [await store.acquire("d", now, rpm=10, tpm=None, tokens=1) for _ in range(10)]
        assert served.count(True) == 5
        key = Scope("key", "k-half", rpm=4)
        for _ in range(2):
            assert await store.acquire("e", now, rpm=None, tpm=None, tokens=1,
                                       ticket=ticket(key))
        with pytest.raises(RateLimitExceededError, match="limit 2, current 2"):
            await store.acquire("e", now, rpm=None, tpm=None, tokens=1, ticket=ticket(key))
    finally:
        await store.aclose()


# -- passwords ------------------------------------------------------------------------------

PASSWORD = "s3cret-QZ81-redis"


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[Redis]:
    with redis_server("--requirepass", PASSWORD) as server:
        yield server


@pytest.mark.parametrize(("password", "source", "expected"), [
    (PASSWORD, "router_settings.redis_password", None),
    ("wrong-password-77", "REDIS_PASSWORD", "refused the password given by REDIS_PASSWORD"),
    (None, "router_settings.redis_password", "needs a password: set "
                                             "router_settings.redis_password"),
])
async def test_passwords(locked_redis: Redis, password: str | None, source: str,
                         expected: str | None) -> None:
    settings = RedisSettings(host="127.0.0.1", port=locked_redis.port, password=password,
                             password_source=source)
    store = RedisStore(settings)
    try:
        assert await store.start() is (expected is None)
        if expected is not None:
            assert expected in (store.link.error or "")
            assert "wrong-password" not in (store.link.error or "")
        assert PASSWORD not in repr(settings) and PASSWORD not in repr(store)
    finally:
        await store.aclose()


async def test_a_release_whose_answer_never_comes_still_books_its_spend(
        own_redis: Redis) -> None:
    """The release is sent without waiting: when its answer fails to come, the store goes
    local then, and the spend it carried is paid when Redis is back."""
    settings = redis_settings(own_redis, timeout=0.3)
    store = await started(settings, retry=0.1)
    try:
        t = ticket(Scope("key", "k-behind", max_budget=10.0), reserve=0.5)
        assert await store.acquire("d", store.clock(), rpm=None, tpm=None, tokens=1, ticket=t)
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        t.cost = 2.5
        await store.release("d", store.clock(), ticket=t)  # returns at once
        assert t.settled and not store.fallback_active
        await eventually(lambda: store.fallback_active)  # its answer never came
        os.kill(own_redis.process.pid, signal.SIGCONT)
        await eventually(lambda: not store.fallback_active)
        spend = await command(store, "GET", settings.prefix + "s:key:k-behind:b:0")
        # 2.5 at least: the release itself may have run too once Redis woke (spend is
        # booked at least once, never lost)
        assert float(spend) in (2.5, 5.0)  # type: ignore[arg-type]
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
        await store.aclose()
