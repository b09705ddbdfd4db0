"""The access layer's live state across processes: two proxies (two apps, each with its own
connection and incarnation, as two processes have) sharing one Redis and one database.
A key's limits and budget hold across both, and a change made on one reaches the other
through the change channel (the database's change table is not polled here)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gatewise.proxy.access.secrets import digest
from gatewise.proxy.app import ProxyApp
from tests._services import Redis, redis_server
from tests.access._keys import add_key
from tests.fake_mistral import Delay, FakeMistral
from tests.proxy.conftest import HELLO, Answer, call, make_app

MASTER = "sk-master-shared-access"


@pytest.fixture
def own_redis() -> Iterator[Redis]:
    with redis_server() as server:
        yield server


@pytest.fixture
async def pair(tmp_path: Path, own_redis: Redis, fake_mistral: FakeMistral
               ) -> AsyncIterator[tuple[ProxyApp, ProxyApp]]:
    data = {
        "model_list": [{"model_name": "small", "params": {
            "model": "mistral/mistral-small-latest", "api_key": "test-key",
            "api_base": fake_mistral.base_url}}],
        "router_settings": {"redis_url": own_redis.url, "redis_timeout": 1.0},
        "general_settings": {"master_key": MASTER,
                             "database_url": f"sqlite:///{tmp_path / 'shared.db'}"}}
    apps = [make_app(data), make_app(data)]
    for app in apps:
        await app.state.start()
        assert app.state.shared is not None and not app.state.shared.store.fallback_active
    try:
        yield apps[0], apps[1]
    finally:
        for app in apps:
            await app.state.aclose()


async def chat(app: ProxyApp, key: str, **body: Any) -> Answer:
    return await call(app, "POST", "/v1/chat/completions",
                      {"model": "small", "messages": HELLO, **body},
                      headers={"Authorization": f"Bearer {key}"})


def statuses(answers: list[Answer]) -> list[int]:
    return sorted(a.status for a in answers)


async def test_a_keys_rpm_limit_holds_across_both(pair: tuple[ProxyApp, ProxyApp]) -> None:
    a, b = pair
    assert a.state.db is not None
    key = await add_key(a.state.db, rpm_limit=5)
    answers = [await chat(app, key) for _ in range(5) for app in (a, b)]
    assert statuses(answers) == [200] * 5 + [429] * 5


async def test_a_keys_parallel_limit_holds_across_both(pair: tuple[ProxyApp, ProxyApp],
                                                       fake_mistral: FakeMistral) -> None:
    a, b = pair
    assert a.state.db is not None
    key = await add_key(a.state.db, max_parallel_requests=2)
    fake_mistral.script(*[Delay(0.5)] * 10)
    answers = await asyncio.gather(*(chat(app, key) for _ in range(4) for app in (a, b)))
    assert statuses(list(answers)) == [200] * 2 + [429] * 6


async def test_a_keys_budget_holds_across_both(pair: tuple[ProxyApp, ProxyApp],
                                               fake_mistral: FakeMistral) -> None:
    """50 concurrent requests over both, on a budget that fits about 10: the spend ends
    within 20 % of the budget (the keys' bound, with one Redis instead of one process)."""
    a, b = pair
    assert a.state.db is not None
    probes = [await chat(app, MASTER) for app in (a, b)]  # each learns what answers cost
    cost = float(probes[0].headers["x-gatewise-response-cost"])
    key = await add_key(a.state.db, max_budget=cost * 10)
    fake_mistral.script(*[Delay(0.05)] * 60)
    answers = await asyncio.gather(*(chat(app, key) for _ in range(25) for app in (a, b)))
    served = [x for x in answers if x.status == 200]
    assert 7 <= len(served) <= 10, len(served)
    assert {x.status for x in answers if x.status != 200} == {400}
    spent = max(float(x.headers["x-gatewise-key-spend"]) for x in served)
    assert spent <= cost * 10 * 1.2
    after = [await chat(app, key) for app in (a, b)]
    assert statuses(after) == [400, 400]  # spent, on both


async def test_a_key_blocked_on_one_is_refused_on_the_other(pair: tuple[ProxyApp, ProxyApp]
                                                            ) -> None:
    a, b = pair
    assert a.state.db is not None and b.state.db is not None
    for task in b.state._tasks:  # b's poll of the database's change table: not this way
        task.cancel()
    key = await add_key(a.state.db)
    assert [(await chat(app, key)).status for app in (a, b)] == [200, 200]  # both cache it
    from gatewise.db.schema import keys

    async with a.state.db.engine.begin() as connection:  # blocked, as the API does it...
        await connection.execute(keys.update().where(keys.c.token == digest(key))
                                 .values(blocked=True))
    await a.state.access.changed("key", digest(key))  # ...and says so
    deadline = asyncio.get_running_loop().time() + 10
    while (await chat(b, key)).status == 200:
        assert asyncio.get_running_loop().time() < deadline, "b never heard of it"
        await asyncio.sleep(0.02)
    assert (await chat(b, key)).status == 401


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_keys_while_redis_is_away(tmp_path: Path, own_redis: Redis,
                                        fake_mistral: FakeMistral, mode: str) -> None:
    """``redis_failure_mode``: open serves a key on local accounting; closed refuses it
    (503, naming the cause) -- the master key, which has no limits, is served either way."""
    app = make_app({
        "model_list": [{"model_name": "small", "params": {
            "model": "mistral/mistral-small-latest", "api_key": "test-key",
            "api_base": fake_mistral.base_url}}],
        "router_settings": {"redis_url": own_redis.url, "redis_failure_mode": mode},
        "general_settings": {"master_key": MASTER,
                             "database_url": f"sqlite:///{tmp_path / 'away.db'}"}})
    await app.state.start()
    try:
        assert app.state.db is not None
        key = await add_key(app.state.db, rpm_limit=100, max_budget=10.0)
        assert (await chat(app, key)).status == 200
        own_redis.stop()
        answers = [await chat(app, key) for _ in range(3)]
        if mode == "open":
            assert statuses(answers) == [200, 200, 200]
        else:
            assert statuses(answers) == [503, 503, 503]
            error = answers[-1].error()
            assert error["code"] == "shared_state_unavailable"
            assert "redis_failure_mode is closed" in error["message"]
        assert (await chat(app, MASTER)).status == 200
    finally:
        await app.state.aclose()
