"""The router end to end against three fake Mistral servers (one per deployment).

Each test arms the servers (fail, slow, rate-limited), sends calls through the router and
checks where they landed (``fake.requests``).  The RNG is seeded and the router's clock is
fake, so distributions and cooldown expiry are exact without sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest

from gatewise import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContextWindowExceededError,
    EmbeddingResponse,
    ModelResponse,
    RateLimitError,
    ServiceUnavailableError,
)
from gatewise.router import Router, attempts_of
from tests.fake_mistral import CutStream, Delay, FakeMistral, StallStream, Status
from tests.fake_mistral.errors import error_body
from tests.router._helpers import HELLO, FakeClock

Fakes = dict[str, FakeMistral]
SECRET = "sk-router-secret-9999"
TOO_LONG = error_body("Prompt contains 40000 tokens, too large for model with 32768 maximum "
                      "context length", "invalid_request_error", "3051")


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    with FakeMistral() as a, FakeMistral() as b, FakeMistral() as c:
        yield {"a": a, "b": b, "c": c}


@pytest.fixture
def fakes(servers: Fakes) -> Fakes:
    for fake in servers.values():
        fake.reset()
    return servers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


def on(fakes: Fakes, name: str, server: str, **params: Any) -> dict[str, Any]:
    """A deployment of model group ``name`` served by fake ``server`` (its id is ``server``)."""
    routing: dict[str, Any] = {k: params.pop(k) for k in ("rpm", "tpm", "weight", "order")
                               if k in params}
    return {"model_name": name, "model_info": {"id": server}, **routing,
            "params": {"model": params.pop("model", "mistral/mistral-small-latest"),
                       "api_key": "test-key", "api_base": fakes[server].base_url, **params}}


def counts(fakes: Fakes) -> dict[str, int]:
    return {name: len(fake.requests) for name, fake in fakes.items()}


@pytest.fixture
async def make(fakes: Fakes, clock: FakeClock) -> AsyncIterator[Any]:
    routers: list[Router] = []

    def build(model_list: list[dict[str, Any]], **settings: Any) -> Router:
        settings.setdefault("seed", 11)
        settings.setdefault("retry_backoff", 0.001)
        router = Router(model_list, clock=clock, **settings)
        routers.append(router)
        return router

    yield build
    for router in routers:
        await router.aclose()


async def call(router: Router, model: str = "small", **params: Any) -> str:
    result = await router.acompletion_dict(model, HELLO, **params)
    if params.get("stream"):
        assert [chunk async for chunk in result.response]  # type: ignore[union-attr]
    return result.deployment_id


# -- strategies: where traffic goes --------------------------------------------------------

async def test_simple_shuffle_splits_by_rpm(fakes: Fakes, make: Any) -> None:
    router = make([on(fakes, "small", "a", rpm=600), on(fakes, "small", "b", rpm=300)])
    for _ in range(90):
        await call(router)
    got = counts(fakes)
    assert got["c"] == 0
    assert got["a"] == pytest.approx(60, abs=9) and got["a"] + got["b"] == 90


async def test_simple_shuffle_splits_by_weight_over_three(fakes: Fakes, make: Any) -> None:
    router = make([on(fakes, "small", "a", weight=1), on(fakes, "small", "b", weight=1),
                   on(fakes, "small", "c", weight=4)])
    for _ in range(90):
        await call(router)
    got = counts(fakes)
    assert got["c"] == pytest.approx(60, abs=9)
    assert got["a"] == pytest.approx(15, abs=7) and got["b"] == pytest.approx(15, abs=7)


async def test_least_busy_keeps_traffic_off_the_slow_deployment(fakes: Fakes, make: Any
                                                                ) -> None:
    fakes["a"].script(*[Delay(0.4)] * 5)
    router = make([on(fakes, "small", "a"), on(fakes, "small", "b")],
                  routing_strategy="least-busy")

    async def later(i: int) -> str:
        await asyncio.sleep(0.01 * i)
        return await call(router)

    served = await asyncio.gather(*(later(i) for i in range(20)))
    assert served.count("a") <= 1 and served.count("b") >= 19
    assert {h.in_flight for h in await router.ahealth()} == {0}


@pytest.mark.parametrize("stream", [False, True])
async def test_latency_based_prefers_the_fast_deployment(fakes: Fakes, make: Any,
                                                         stream: bool) -> None:
    fakes["a"].script(*[Delay(0.04)] * 40)
    router = make([on(fakes, "small", "a"), on(fakes, "small", "b")],
                  routing_strategy="latency-based")
    served = [await call(router, stream=stream) for _ in range(40)]
    # one measurement each, then b, bar the ~10% exploration (half of it lands on a)
    assert served.count("a") <= 5
    health = {h.id: h for h in await router.ahealth()}
    fast = health["b"].time_to_first_token if stream else health["b"].latency
    slow = health["a"].time_to_first_token if stream else health["a"].latency
    assert fast is not None and slow is not None and slow > fast


async def test_usage_based_spreads_by_headroom(fakes: Fakes, make: Any) -> None:
    router = make([on(fakes, "small", "a", rpm=20), on(fakes, "small", "b", rpm=10)],
                  routing_strategy="usage-based")
    for _ in range(15):
        await call(router)
    assert counts(fakes) == {"a": 10, "b": 5, "c": 0}


async def test_order_sends_traffic_to_tier_two_only_when_tier_one_is_down(
        fakes: Fakes, make: Any, clock: FakeClock) -> None:
    router = make([on(fakes, "small", "a", order=1), on(fakes, "small", "b", order=1),
                   on(fakes, "small", "c", order=2)], allowed_fails=1, cooldown_time=10)
    for _ in range(10):
        await call(router)
    assert counts(fakes)["c"] == 0
    fakes["a"].script(Status(500))
    fakes["b"].script(Status(500))
    assert await call(router) == "c"
    assert await call(router) == "c"
    clock.advance(10)
    assert await call(router) in {"a", "b"}


async def test_rpm_limits_hold_and_the_error_says_when_to_come_back(
        fakes: Fakes, make: Any, clock: FakeClock) -> None:
    clock.now = 1010.0  # 10 s left in this minute window
    router = make([on(fakes, "small", "a", rpm=3), on(fakes, "small", "b", rpm=2)])
    for _ in range(5):
        await call(router)
    assert counts(fakes) == {"a": 3, "b": 2, "c": 0}
    with pytest.raises(RateLimitError) as info:
        await call(router)
    assert info.value.retry_after == pytest.approx(10.0)
    assert sum(counts(fakes).values()) == 5
    clock.advance(10)
    await call(router)


# -- failures, cooldowns -----------------------------------------------------------------

async def test_failures_move_traffic_away_and_the_cooldown_expires(
        fakes: Fakes, make: Any, clock: FakeClock) -> None:
    fakes["a"].script(*[Status(500)] * 50)
    router = make([on(fakes, "small", "a"), on(fakes, "small", "b")], allowed_fails=2,
                  cooldown_time=30)
    served = [await call(router) for _ in range(20)]
    assert served == ["b"] * 20  # every failure was retried on b
    assert counts(fakes)["a"] == 2  # then a sat out (and no SDK-level retries inside)
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].status == "cooling_down"
    assert health["a"].cooldown_remaining == pytest.approx(30)
    fakes["a"].reset()
    clock.advance(30)
    served = [await call(router) for _ in range(20)]
    assert "a" in served and counts(fakes)["a"] >= 1


async def test_a_rate_limited_deployment_sits_out_its_retry_after(
        fakes: Fakes, make: Any, clock: FakeClock) -> None:
    fakes["a"].script(*[Status(429, headers={"Retry-After": "20"})] * 5)
    router = make([on(fakes, "small", "a"), on(fakes, "small", "b")], cooldown_time=5)
    served = [await call(router) for _ in range(10)]
    assert served == ["b"] * 10 and counts(fakes)["a"] == 1
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].cooldown_remaining == pytest.approx(20)
    clock.advance(20)
    assert {h.id: h.status for h in await router.ahealth()}["a"] == "healthy"


async def test_a_rejected_key_benches_the_deployment_at_once(fakes: Fakes, make: Any) -> None:
    fakes["a"].api_keys = {"someone-else"}
    fakes["b"].api_keys.add(SECRET)
    router = make([on(fakes, "small", "a", api_key=SECRET),
                   on(fakes, "small", "b", api_key=SECRET)], allowed_fails=5)
    served = [await call(router) for _ in range(10)]
    assert served == ["b"] * 10 and counts(fakes)["a"] == 1
    report = repr(await router.ahealth()) + repr(router) + repr(router.deployments)
    assert SECRET not in report


# -- fallbacks ---------------------------------------------------------------------------

async def test_fallbacks_fire_when_the_group_is_spent(fakes: Fakes, make: Any) -> None:
    fakes["a"].script(*[Status(503)] * 3)
    fakes["b"].script(*[Status(503)] * 3)
    router = make([on(fakes, "small", "a"), on(fakes, "small", "b"),
                   on(fakes, "large", "c", model="mistral/mistral-large-latest")],
                  fallbacks=[{"small": ["large"]}], num_retries=1)
    result = await router.acompletion_dict("small", HELLO)
    assert (result.deployment_id, result.model_group) == ("c", "large")
    assert result.headers() == {"x-gatewise-model-id": "c",
                                "x-gatewise-attempted-retries": "1",
                                "x-gatewise-attempted-fallbacks": "1"}
    assert [type(a.error) for a in result.attempts] == [ServiceUnavailableError] * 2
    body = fakes["c"].requests[-1].json
    assert body is not None and body["model"] == "mistral-large-latest"


async def test_context_window_fallbacks_fire_only_on_context_window_errors(
        fakes: Fakes, make: Any) -> None:
    router = make([on(fakes, "small", "a"), on(fakes, "big", "b"), on(fakes, "other", "c")],
                  context_window_fallbacks=[{"small": ["big"]}],
                  fallbacks=[{"small": ["other"]}], num_retries=0)
    fakes["a"].script(Status(400, body=TOO_LONG))
    result = await router.acompletion_dict("small", HELLO)
    assert result.deployment_id == "b"
    assert isinstance(result.attempts[0].error, ContextWindowExceededError)
    fakes["a"].script(Status(502))
    assert await call(router) == "c"  # any other error: the generic chain, not "big"
    assert counts(fakes) == {"a": 2, "b": 1, "c": 1}

    only_cw = make([on(fakes, "small", "a"), on(fakes, "big", "b")],
                   context_window_fallbacks=[{"small": ["big"]}], num_retries=0)
    fakes["a"].script(Status(502))
    with pytest.raises(Exception, match="502"):
        await call(only_cw)
    assert counts(fakes)["b"] == 1


async def test_a_fully_failed_call_reports_every_attempt(fakes: Fakes, make: Any) -> None:
    fakes["a"].script(Status(500))
    fakes["b"].script(Delay(0.5))
    fakes["c"].script(Status(429, headers={"Retry-After": "30"}))
    router = make([on(fakes, "small", "a"), on(fakes, "small", "b", timeout=0.2),
                   on(fakes, "small", "c")], num_retries=2)
    with pytest.raises(RateLimitError) as info:
        await call(router)
    error = info.value
    assert error.status_code == 429 and error.retry_after == 30
    by_deployment = {a.deployment_id: type(a.error).__name__ for a in attempts_of(error)}
    assert by_deployment == {"a": "InternalServerError", "b": "APITimeoutError",
                             "c": "RateLimitError"}
    assert "3 attempts failed" in error.__notes__[0]


# -- streams -----------------------------------------------------------------------------

async def test_a_stream_that_stalls_before_its_first_chunk_fails_over(
        fakes: Fakes, make: Any) -> None:
    fakes["a"].script(StallStream(after_events=0, seconds=0.5))
    router = make([on(fakes, "small", "a", order=1, stream_timeout=0.2),
                   on(fakes, "small", "b", order=2)])
    result = await router.acompletion_dict("small", HELLO, stream=True)
    chunks = [chunk async for chunk in result.response]
    assert result.deployment_id == "b" and chunks[-1]["choices"][0]["finish_reason"]
    assert [type(a.error) for a in result.attempts] == [APITimeoutError]
    assert {h.in_flight for h in await router.ahealth()} == {0}


async def test_after_the_first_chunk_a_stream_stays_where_it_is(fakes: Fakes, make: Any
                                                                ) -> None:
    fakes["a"].script(CutStream(after_events=2))
    router = make([on(fakes, "small", "a", order=1), on(fakes, "small", "b", order=2)])
    result = await router.acompletion_dict("small", HELLO, stream=True)
    received: list[Any] = []

    async def drain() -> None:
        async for chunk in result.response:
            received.append(chunk)

    with pytest.raises(APIConnectionError):
        await drain()
    assert len(received) >= 1 and counts(fakes)["b"] == 0
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].in_flight == 0 and health["a"].failures_last_minute == 1


async def test_a_relayed_stream_counts_its_tokens_and_fails_over(fakes: Fakes, make: Any
                                                                 ) -> None:
    """``acompletion_sse`` (the proxy's): SSE bytes out, the same routing, and the usage
    the last event carried counted against the deployment once the stream ends."""
    fakes["a"].script(StallStream(after_events=0, seconds=0.5))
    router = make([on(fakes, "small", "a", order=1, stream_timeout=0.2),
                   on(fakes, "small", "b", order=2)])
    result = await router.acompletion_sse("small", HELLO, stream=True)
    body = b"".join([block async for block in result.response])
    events = [orjson.loads(e[6:]) for e in body.split(b"\n\n")[:-1]]
    assert result.deployment_id == "b" and events[-1]["choices"][0]["finish_reason"]
    assert result.response.usage == events[-1]["usage"]  # type: ignore[union-attr]
    health = {h.id: h for h in await router.ahealth()}
    assert health["b"].tokens_this_minute == events[-1]["usage"]["total_tokens"] > 0
    assert health["b"].in_flight == 0


# -- typed results and the sync twins ------------------------------------------------------

async def test_typed_async_results(fakes: Fakes, make: Any) -> None:
    router = make([on(fakes, "small", "a"), on(fakes, "embed", "b", model="mistral/mistral-embed")])
    response = await router.acompletion("small", HELLO)
    assert isinstance(response, ModelResponse) and response.choices[0].message.content
    stream = await router.acompletion("small", HELLO, stream=True)
    pieces = [chunk async for chunk in stream]
    assert pieces and pieces[0].object == "chat.completion.chunk"
    vectors = await router.aembedding("embed", ["one", "two"])
    assert isinstance(vectors, EmbeddingResponse) and len(vectors.data) == 2


def test_sync_twins_route_retry_and_stream(fakes: Fakes, clock: FakeClock) -> None:
    model_list = [on(fakes, "small", "a"), on(fakes, "small", "b"),
                  on(fakes, "embed", "c", model="mistral/mistral-embed")]
    with Router(model_list, clock=clock, seed=3, retry_backoff=0.001) as router:
        fakes["a"].script(*[Status(500)] * 3)
        for _ in range(6):
            response = router.completion("small", HELLO)
            assert isinstance(response, ModelResponse)
        assert counts(fakes)["b"] >= 6 and counts(fakes)["a"] >= 1
        with router.completion("small", HELLO, stream=True) as stream:  # type: ignore[union-attr]
            chunks = list(stream)
        assert chunks[-1].choices[0].finish_reason == "stop"
        stream = router.completion("small", HELLO, stream=True)
        next(iter(stream))
        stream.close()  # type: ignore[union-attr]
        assert router.embedding("embed", "hello").data[0].embedding
        assert {h.in_flight for h in router.health()} == {0}
        fakes["a"].api_keys = fakes["b"].api_keys = {"nobody"}
        clock.advance(5)  # a's cooldown (its third 500) is over
        with pytest.raises(AuthenticationError) as info:
            router.completion("small", HELLO)
        assert len(attempts_of(info.value)) == 2


async def test_calls_overlap_on_the_event_loop(fakes: Fakes, make: Any) -> None:
    fakes["a"].script(*[Delay(0.3)] * 10)
    router = make([on(fakes, "small", "a")])
    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(call(router) for _ in range(10)))
    assert asyncio.get_running_loop().time() - started < 1.0  # not 10 x 0.3 s
