"""The router's decisions, exactly: a scripted client, a fake clock, a seeded RNG."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

import pytest

from gatewise import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from gatewise.router import Router, attempts_of, failure_headers
from tests.router._helpers import HELLO, MODEL, FakeClock, entry
from tests.router._scripted import BreakAfter, ScriptedClient, Sleep

SECRET = "sk-never-show-me-1234"


def make(model_list: list[dict[str, Any]], **settings: Any
         ) -> tuple[Router, ScriptedClient, FakeClock]:
    client, clock = ScriptedClient(), FakeClock(1000.0)
    settings.setdefault("seed", 1)
    settings.setdefault("retry_backoff", 0.001)
    router = Router(model_list, client=client.as_client(), clock=clock, **settings)
    return router, client, clock


def group(name: str, *bases: str, **params: Any) -> list[dict[str, Any]]:
    return [entry(name, base, api_base=base, api_key=SECRET, **params) for base in bases]


async def served_by(router: Router, model: str = "g", **params: Any) -> str:
    result = await router.acompletion_dict(model, HELLO, **params)
    return result.deployment_id


# -- names ---------------------------------------------------------------------------------

async def test_unknown_model_is_not_found_and_aliases_resolve() -> None:
    router, _, _ = make(group("g", "a"), model_group_alias={"fast": "g", "quick": {"model": "g"}})
    with pytest.raises(NotFoundError) as info:
        await router.acompletion_dict("nope", HELLO)
    assert info.value.status_code == 404 and info.value.code == "model_not_found"
    assert await served_by(router, "fast") == "a"
    result = await router.acompletion_dict("quick", HELLO)
    assert result.model_group == "g"
    assert router.model_names == ["g", "fast", "quick"]
    assert [d.id for d in router.get_deployments("fast")] == ["a"]


def wildcard(name: str, base: str, model: str = "mistral/*", **params: Any) -> dict[str, Any]:
    return {"model_name": name, "model_info": {"id": base},
            "params": {"model": model, "api_base": base, "api_key": SECRET, **params}}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_wildcard_group_serves_any_name_it_matches_as_asked(stream: bool) -> None:
    router, client, _ = make([wildcard("*", "any"), wildcard("mistral/*", "prefixed"),
                              *group("mistral-large-latest", "named")])
    for name in ("mistral-small-latest", "mistral/magistral-medium-latest",
                 "mistral-large-latest", "codestral-embed"):
        result = await router.acompletion_dict(name, HELLO, stream=stream)
        if stream:
            await result.response.aclose()  # type: ignore[union-attr]
        assert result.model_group == {"mistral-small-latest": "*",
                                      "mistral/magistral-medium-latest": "mistral/*",
                                      "mistral-large-latest": "mistral-large-latest",
                                      "codestral-embed": "*"}[name]
    assert client.models == ["mistral/mistral-small-latest", "mistral/magistral-medium-latest",
                             MODEL,  # the named entry's own model (here: mistral-small)
                             "mistral/codestral-embed"]
    assert [base for base, _ in client.calls] == ["any", "prefixed", "named", "any"]
    assert router.model_names == ["mistral-large-latest"]


async def test_a_wildcard_without_a_provider_prefix_adds_it_once() -> None:
    router, client, _ = make([wildcard("*", "any")])
    await router.acompletion_dict("mistral/mistral-small-latest", HELLO)
    await router.aembedding_dict("mistral-embed", ["x"])
    assert client.models == ["mistral/mistral-small-latest", "mistral/mistral-embed"]
    only, _, _ = make([wildcard("mistral/*", "prefixed")])
    with pytest.raises(NotFoundError):
        await only.acompletion_dict("mistral-small-latest", HELLO)  # the pattern wants mistral/


async def test_a_wildcard_deployment_keeps_its_limits_and_cooldowns() -> None:
    router, client, _ = make([wildcard("*", "any"), wildcard("*", "other")],
                             num_retries=0, allowed_fails=1, cooldown_time=30)
    client.script("other", InternalServerError("x"))
    while client.served("other") < 1:
        with contextlib.suppress(InternalServerError):
            await router.acompletion_dict("mistral-small-latest", HELLO)
    health = {h.id: h for h in await router.ahealth()}
    assert health["other"].status == "cooling_down"
    assert {await served_by(router, "codestral-latest") for _ in range(5)} == {"any"}
    limited, _, _ = make([wildcard("*", "any", rpm=2)])
    for name in ("mistral-small-latest", "mistral-large-latest"):
        await limited.acompletion_dict(name, HELLO)
    with pytest.raises(RateLimitError):  # 2 a minute, whichever models they were for
        await limited.acompletion_dict("codestral-latest", HELLO)


def test_a_wildcard_group_is_no_alias_or_fallback_target() -> None:
    with pytest.raises(ValueError, match="wildcard"):
        Router([wildcard("*", "any"), *group("g", "a")], model_group_alias={"x": "*"})
    with pytest.raises(ValueError, match="wildcard"):
        Router([wildcard("*", "any"), *group("g", "a")], fallbacks=[{"g": ["*"]}])
    Router([wildcard("*", "any"), *group("g", "a")], fallbacks=[{"*": ["g"]}])


async def test_calls_cannot_redirect_a_deployment_or_its_key() -> None:
    router, client, _ = make(group("g", "a", extra_headers={"X-Team": "ops"}))
    for option in ("api_base", "base_url", "api_key"):
        with pytest.raises(BadRequestError, match=option):
            await router.acompletion_dict("g", HELLO, **{option: "http://evil.example"})
    assert client.calls == []
    await router.acompletion_dict("g", HELLO, temperature=0.1,
                                  extra_headers={"X-Team": "me", "X-Trace": "1"})
    sent = client.calls[0][1]
    assert sent["api_key"] == SECRET and sent["temperature"] == 0.1
    assert sent["extra_headers"] == {"X-Team": "ops", "X-Trace": "1"}
    assert sent["num_retries"] == 0  # the router owns retries


def test_configuration_errors_are_caught_up_front() -> None:
    with pytest.raises(ValueError, match="no such model_name"):
        Router(group("g", "a"), model_group_alias={"x": "missing"})
    with pytest.raises(ValueError, match="unknown model_name"):
        Router(group("g", "a"), fallbacks=[{"g": ["missing"]}])
    with pytest.raises(ValueError, match="routing_strategy"):
        Router(group("g", "a"), routing_strategy="nope")
    with pytest.raises(ValueError, match="num_retries"):
        Router(group("g", "a"), num_retries=-1)


# -- retries ---------------------------------------------------------------------------------

async def test_a_5xx_is_retried_on_another_deployment() -> None:
    router, client, _ = make(group("g", "a", "b"))
    client.script("a", InternalServerError("boom"))
    while client.served("a") == 0:
        result = await router.acompletion_dict("g", HELLO)
    assert result.deployment_id == "b"  # the retry went elsewhere
    assert result.retries == 1 and [a.deployment_id for a in result.attempts] == ["a"]
    assert result.headers() == {"x-gatewise-model-id": "b",
                                "x-gatewise-attempted-retries": "1",
                                "x-gatewise-attempted-fallbacks": "0"}
    client.script("a", InternalServerError("boom"))
    client.script("b", InternalServerError("boom"))
    result = await router.acompletion_dict("g", HELLO)
    tried = [str(a.deployment_id) for a in result.attempts]
    assert sorted(tried) == ["a", "b"]  # each retry on a deployment not yet tried
    assert result.retries == 2  # then on a tried one again


async def test_bad_requests_are_never_retried() -> None:
    router, client, _ = make(group("g", "a", "b"))
    client.script("a", BadRequestError("no"))
    client.script("b", BadRequestError("no"))
    with pytest.raises(BadRequestError) as info:
        await router.acompletion_dict("g", HELLO)
    assert len(client.calls) == 1
    assert len(attempts_of(info.value)) == 1


async def test_retry_budget_counts_retries_across_deployments() -> None:
    router, client, _ = make(group("g", "a", "b", "c"), num_retries=1)
    for base in "abc":
        client.script(base, *[InternalServerError("x")] * 3)
    with pytest.raises(InternalServerError) as info:
        await router.acompletion_dict("g", HELLO)
    assert len(client.calls) == 2
    assert info.value.attempted_retries == 1  # type: ignore[attr-defined]
    client.calls.clear()
    with pytest.raises(InternalServerError):
        await router.acompletion_dict("g", HELLO, num_retries=0)
    assert len(client.calls) == 1


async def test_an_entrys_max_retries_is_its_groups_budget() -> None:
    model_list = group("g", "a", max_retries=0) + group("g", "b", num_retries=1) + group(
        "g", "c")
    router, client, _ = make(model_list, num_retries=2)
    for base in "abc":
        client.script(base, *[InternalServerError("x")] * 3)
    with pytest.raises(InternalServerError):
        await router.acompletion_dict("g", HELLO)
    assert len(client.calls) == 2  # the most any entry asks: 1 retry, not the router's 2
    assert all(params.get("num_retries") == 0 for _, params in client.calls)
    client.calls.clear()
    with pytest.raises(InternalServerError):
        await router.acompletion_dict("g", HELLO, num_retries=2)
    assert len(client.calls) == 3


async def test_auth_errors_retry_elsewhere_but_never_on_the_same_deployment() -> None:
    router, client, _ = make(group("g", "a", "b"))
    client.script("a", AuthenticationError("bad key"))
    client.script("b", AuthenticationError("bad key"))
    with pytest.raises(AuthenticationError) as info:
        await router.acompletion_dict("g", HELLO)
    assert sorted(b for b, _ in client.calls) == ["a", "b"]
    assert len(attempts_of(info.value)) == 2
    solo, solo_client, _ = make(group("g", "a"))
    solo_client.script("a", AuthenticationError("bad key"))
    with pytest.raises(AuthenticationError):
        await solo.acompletion_dict("g", HELLO)
    assert len(solo_client.calls) == 1


async def test_the_only_deployment_is_retried_after_its_retry_after() -> None:
    router, client, _ = make(group("g", "a"))
    client.script("a", RateLimitError("slow down", retry_after=0.05))
    started = time.perf_counter()
    result = await router.acompletion_dict("g", HELLO)
    assert time.perf_counter() - started >= 0.05
    assert (result.deployment_id, result.retries, len(client.calls)) == ("a", 1, 2)
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].status == "healthy"  # a group's only deployment is never benched


async def test_a_retry_after_beyond_the_max_wait_is_not_waited_for() -> None:
    router, client, _ = make(group("g", "a"), max_retry_wait=1.0)
    client.script("a", RateLimitError("come back in an hour", retry_after=3600))
    with pytest.raises(RateLimitError) as info:
        await router.acompletion_dict("g", HELLO)
    assert info.value.retry_after == 3600 and len(client.calls) == 1


async def test_timeouts_are_retried_elsewhere_and_per_call_timeout_wins() -> None:
    model_list = group("g", "slow", timeout=5, order=1) + group("g", "fast", order=2)
    router, client, _ = make(model_list)
    client.script("slow", Sleep(1.0))
    started = time.perf_counter()
    result = await router.acompletion_dict("g", HELLO, timeout=0.05)
    assert time.perf_counter() - started < 0.5
    assert [(a.deployment_id, type(a.error)) for a in result.attempts] == [
        ("slow", APITimeoutError)]
    assert (result.deployment_id, result.retries) == ("fast", 1)
    health = {h.id: h for h in await router.ahealth()}
    assert health["slow"].latency == pytest.approx(0.05, abs=0.04)  # a timeout is a latency


def unreachable(message: str = "connection refused") -> APIConnectionError:
    error = APIConnectionError(message)
    error.unsent = True  # as a transport says it: no connection was opened
    return error


async def test_an_unreachable_deployment_moves_on_whatever_the_budget() -> None:
    router, client, _ = make(group("g", "dead", "live"), num_retries=0, allowed_fails=100)
    client.scripts["dead"].extend(unreachable() for _ in range(100))
    results = [await router.acompletion_dict("g", HELLO) for _ in range(20)]
    assert {r.deployment_id for r in results} == {"live"}
    moved = [r for r in results if r.attempts]
    assert moved and client.served("dead") == len(moved)
    for result in moved:
        assert result.retries == 1  # counted, as the proxy's headers say
        assert [(a.deployment_id, getattr(a.error, "unsent", None))
                for a in result.attempts] == [("dead", True)]


async def test_an_unreachable_deployment_is_benched_as_usual() -> None:
    router, client, _ = make(group("g", "dead", "live"), num_retries=0, allowed_fails=1,
                             cooldown_time=30)
    client.script("dead", unreachable())
    while client.served("dead") < 1:
        await served_by(router)
    assert {h.id: h.status for h in await router.ahealth()}["dead"] == "cooling_down"


async def test_moving_on_is_bounded_by_the_groups_size() -> None:
    router, client, _ = make(group("g", "a", "b", "c"), num_retries=0)
    for base in "abc":
        client.script(base, unreachable(), unreachable())
    with pytest.raises(APIConnectionError) as info:
        await router.acompletion_dict("g", HELLO)
    assert len(client.calls) == 3  # each deployment once, then nowhere left to go
    assert failure_headers(info.value)["x-gatewise-attempted-retries"] == "2"


async def test_a_connection_that_broke_after_sending_keeps_to_the_budget() -> None:
    router, client, _ = make(group("g", "a", "b"), num_retries=0)
    client.script("a", APIConnectionError("reset by peer"))
    client.script("b", APIConnectionError("reset by peer"))
    with pytest.raises(APIConnectionError):
        await router.acompletion_dict("g", HELLO)
    assert len(client.calls) == 1  # it may have reached the upstream: no free move


async def test_capped_call_options_may_lower_the_retry_budget_never_raise_it() -> None:
    router, client, _ = make(group("g", "a"), num_retries=2, cap_call_options=True)
    client.script("a", *[RateLimitError("r", retry_after=0)] * 20)
    for asked, calls in ((1000000, 3), (1, 2), (0, 1)):
        client.calls.clear()
        with pytest.raises(RateLimitError):
            await router.acompletion_dict("g", HELLO, num_retries=asked)
        assert len(client.calls) == calls
    client.calls.clear()
    with pytest.raises(RateLimitError):
        await router.acompletion_dict("g", HELLO, max_retries=50)
    assert len(client.calls) == 3
    uncapped, client, _ = make(group("g", "a"), num_retries=2)  # the SDK's default: as asked
    client.script("a", *[RateLimitError("r", retry_after=0)] * 5)
    with pytest.raises(RateLimitError):
        await uncapped.acompletion_dict("g", HELLO, num_retries=4)
    assert len(client.calls) == 5


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("option", ["timeout", "request_timeout", "stream_timeout"])
async def test_capped_call_timeouts_may_lower_the_deployments_never_raise_it(
        option: str, stream: bool) -> None:
    if option == "stream_timeout" and not stream:
        pytest.skip("a stream's option")
    router, client, _ = make(group("g", "a", timeout=0.05, stream_timeout=0.05),
                             num_retries=0, cap_call_options=True)
    client.script("a", Sleep(0.5))
    with pytest.raises(APITimeoutError):  # 30 s asked; the deployment allows 0.05 s
        await router.acompletion_dict("g", HELLO, stream=stream, **{option: 30})
    assert client.calls[0][1]["timeout"] == 0.05
    if stream and option != "stream_timeout":
        return  # a stream's waits are its stream_timeout's (as without the cap)
    router, client, _ = make(group("g", "a", timeout=10, stream_timeout=10), num_retries=0,
                             cap_call_options=True)
    client.script("a", Sleep(0.5))
    with pytest.raises(APITimeoutError):  # lowering is fine
        await router.acompletion_dict("g", HELLO, stream=stream, **{option: 0.05})
    assert client.calls[0][1]["timeout"] == 0.05


# -- cooldowns -------------------------------------------------------------------------------

async def test_allowed_fails_then_cooldown_then_back_in_rotation() -> None:
    router, client, clock = make(group("g", "a", "b"), allowed_fails=2, cooldown_time=30)
    client.script("a", InternalServerError("x"), InternalServerError("x"))
    for _ in range(12):
        await served_by(router)
    assert client.served("a") == 2 + 0  # two failures, then benched
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].status == "cooling_down"
    assert health["a"].cooldown_remaining == pytest.approx(30.0)
    clock.advance(29.9)
    assert {await served_by(router) for _ in range(10)} == {"b"}
    clock.advance(0.1)
    assert {await served_by(router) for _ in range(20)} == {"a", "b"}


async def test_failures_older_than_a_minute_do_not_count() -> None:
    router, client, clock = make(group("g", "a", "b"), allowed_fails=2)
    client.script("a", InternalServerError("x"))
    while client.served("a") < 1:
        await served_by(router)
    clock.advance(61)
    client.script("a", InternalServerError("x"))
    while client.served("a") < 2:
        await served_by(router)
    assert {h.id: h.status for h in await router.ahealth()}["a"] == "healthy"


@pytest.mark.parametrize("error", [AuthenticationError("k"), NotFoundError("n"),
                                   RateLimitError("r")])
async def test_401_404_429_bench_at_once(error: Exception) -> None:
    router, client, clock = make(group("g", "a", "b"), allowed_fails=5, cooldown_time=10)
    client.script("a", error)
    while client.served("a") < 1:
        await served_by(router)
    assert {await served_by(router) for _ in range(10)} == {"b"}
    clock.advance(10)
    assert "a" in {await served_by(router) for _ in range(20)}


async def test_cooldown_follows_the_upstreams_retry_after() -> None:
    router, client, clock = make(group("g", "a", "b"), cooldown_time=30)
    client.script("a", RateLimitError("r", retry_after=5))
    while client.served("a") < 1:
        await served_by(router)
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].cooldown_remaining == pytest.approx(5.0)
    clock.advance(5)
    assert {h.id: h.status for h in await router.ahealth()}["a"] == "healthy"


async def test_an_upstreams_cooldown_wish_is_capped_by_max_cooldown_time() -> None:
    router, client, clock = make(group("g", "a", "b"), cooldown_time=30, max_cooldown_time=60)
    client.script("a", RateLimitError("r", retry_after=99999999))
    while client.served("a") < 1:
        await served_by(router)
    assert {h.id: h for h in await router.ahealth()}["a"].cooldown_remaining == 60.0
    clock.advance(60)
    assert {h.id: h.status for h in await router.ahealth()}["a"] == "healthy"


@pytest.mark.parametrize("wait", [math.inf, math.nan, -1.0])
async def test_an_unusable_retry_after_is_treated_as_unsaid(wait: float) -> None:
    router, client, clock = make(group("g", "a", "b"), cooldown_time=7, max_retry_wait=1.0)
    client.script("a", RateLimitError("r", retry_after=wait))
    client.script("b", RateLimitError("r", retry_after=wait))
    with pytest.raises(RateLimitError):  # both tried, then none left to wait for
        await router.acompletion_dict("g", HELLO)
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].cooldown_remaining == health["b"].cooldown_remaining == 7.0
    clock.advance(7)
    assert {await served_by(router) for _ in range(20)} == {"a", "b"}


async def test_a_retry_after_beyond_the_calls_timeout_is_not_waited_for() -> None:
    router, client, _ = make(group("g", "a", timeout=0.5), max_retry_wait=60)
    client.script("a", RateLimitError("r", retry_after=2), RateLimitError("r", retry_after=2))
    with pytest.raises(RateLimitError):
        await router.acompletion_dict("g", HELLO)
    assert len(client.calls) == 1
    client.scripts.clear()
    client.script("a", RateLimitError("r", retry_after=0.2))
    assert (await router.acompletion_dict("g", HELLO)).retries == 1  # within it: waited


def test_max_cooldown_time_must_be_positive_and_finite() -> None:
    for bad in (0, -1, math.inf, math.nan):
        with pytest.raises(ValueError, match="max_cooldown_time"):
            Router(group("g", "a"), max_cooldown_time=bad)


# -- limits and tiers ------------------------------------------------------------------------

async def test_rpm_limits_are_respected_and_reported_with_the_wait() -> None:
    router, client, clock = make(group("g", "a", rpm=2) + group("g", "b", rpm=1))
    clock.now = 1005.0  # 15 s before the minute window ends (1020)
    for _ in range(3):
        await served_by(router)
    assert (client.served("a"), client.served("b")) == (2, 1)
    with pytest.raises(RateLimitError) as info:
        await router.acompletion_dict("g", HELLO)
    assert info.value.retry_after == pytest.approx(15.0)
    assert info.value.code == "no_deployments_available"
    assert attempts_of(info.value)[0].deployment_id is None
    assert len(client.calls) == 3
    assert {h.status for h in await router.ahealth()} == {"at_limit"}
    clock.now = 1020.0
    await served_by(router)


async def test_tpm_limits_count_actual_usage() -> None:
    router, client, _ = make(group("g", "a", tpm=22))
    await served_by(router)  # 10 tokens used
    await served_by(router)  # 20
    with pytest.raises(RateLimitError):
        await served_by(router)  # 20 + the estimate would pass 25
    assert len(client.calls) == 2


async def test_concurrent_calls_never_exceed_rpm() -> None:
    router, client, _ = make(group("g", "a", rpm=5))
    results = await asyncio.gather(*(served_by(router) for _ in range(20)),
                                   return_exceptions=True)
    assert sum(1 for r in results if r == "a") == 5
    assert all(isinstance(r, RateLimitError) for r in results if r != "a")
    assert len(client.calls) == 5


async def test_order_tiers_spill_over_only_when_tier_one_is_unavailable() -> None:
    model_list = group("g", "p1", "p2", order=1) + group("g", "backup", order=2)
    router, client, _ = make(model_list, cooldown_time=60)
    assert {await served_by(router) for _ in range(20)} == {"p1", "p2"}
    client.script("p1", RateLimitError("r"))
    client.script("p2", RateLimitError("r"))
    served = {await served_by(router) for _ in range(2)}
    assert served == {"backup"}
    retried = [b for b, _ in client.calls[20:]]
    assert retried[:2] in (["p1", "p2"], ["p2", "p1"])  # tier 1 retried first


# -- fallbacks and the final error -----------------------------------------------------------

async def test_fallbacks_fire_on_any_error_and_count() -> None:
    model_list = group("small", "a", "b") + group("large", "c")
    router, client, _ = make(model_list, fallbacks=[{"small": ["large"]}], num_retries=1)
    client.script("a", InternalServerError("x"))
    client.script("b", InternalServerError("x"))
    result = await router.acompletion_dict("small", HELLO)
    assert (result.deployment_id, result.model_group) == ("c", "large")
    assert (result.retries, result.fallbacks, len(result.attempts)) == (1, 1, 2)


async def test_fallbacks_keyed_or_aimed_by_an_alias_fire() -> None:
    model_list = group("small", "a") + group("large", "c")
    aliases = {"fast": "small", "big": "large"}
    for chains in ({"fast": ["large"]}, {"small": ["big"]}):
        router, client, _ = make(model_list, model_group_alias=aliases, fallbacks=chains,
                                 num_retries=0)
        client.script("a", InternalServerError("x"))
        result = await router.acompletion_dict("fast", HELLO)
        assert (result.deployment_id, result.fallbacks) == ("c", 1)


async def test_context_window_fallbacks_fire_only_on_context_window_errors() -> None:
    model_list = group("small", "a") + group("big", "c")
    router, client, _ = make(model_list, context_window_fallbacks=[{"small": ["big"]}])
    client.script("a", InternalServerError("x"), InternalServerError("x"),
                  InternalServerError("x"))
    with pytest.raises(InternalServerError):
        await router.acompletion_dict("small", HELLO)
    assert client.served("c") == 0
    client.script("a", ContextWindowExceededError("too long"))
    result = await router.acompletion_dict("small", HELLO)
    assert result.deployment_id == "c" and result.fallbacks == 1
    assert client.served("a") == 4  # the context-window error was not retried


async def test_per_call_fallbacks() -> None:
    model_list = group("small", "a") + group("large", "c")
    router, client, _ = make(model_list)
    client.script("a", BadRequestError("x"))
    assert await served_by(router, "small", fallbacks=["large"]) == "c"
    with pytest.raises(BadRequestError, match="unknown"):
        await router.acompletion_dict("small", HELLO, fallbacks=["nope"])


@pytest.mark.parametrize("value", [5, [None], {"g": 3}, [1, "x"]])
async def test_malformed_per_call_fallbacks_are_a_bad_request(value: Any) -> None:
    router, client, _ = make(group("g", "a"))
    with pytest.raises(BadRequestError) as info:
        await router.acompletion_dict("g", HELLO, fallbacks=value)
    assert info.value.param == "fallbacks"
    assert client.calls == []


async def test_usage_is_counted_without_a_tpm_limit() -> None:
    router, _, _ = make(group("g", "a"))
    await served_by(router)
    (health,) = await router.ahealth()
    assert (health.requests_this_minute, health.tokens_this_minute) == (1, 10)
    assert health.in_flight == 0 and health.latency is not None


async def test_when_everything_fails_one_error_carries_every_attempt() -> None:
    model_list = group("small", "a", "b") + group("large", "c") + group("huge", "d")
    router, client, _ = make(model_list, fallbacks={"small": ["large"], "large": ["huge", "small"]},
                             num_retries=1)
    client.script("a", APIConnectionError("down"))
    client.script("b", APITimeoutError("slow"))
    client.script("c", RateLimitError("busy", retry_after=30))
    client.script("d", InternalServerError("broken"), InternalServerError("broken"))
    with pytest.raises(RateLimitError) as info:
        await router.acompletion_dict("small", HELLO)
    error = info.value
    # large's only deployment is not waited for (30 s): its fallback takes over at once;
    # huge has nowhere to go, so its only deployment is retried after a backoff
    assert [(a.model_group, a.deployment_id) for a in attempts_of(error)] == [
        ("small", client.calls[0][0]), ("small", client.calls[1][0]), ("large", "c"),
        ("huge", "d"), ("huge", "d")]
    assert error.retry_after == 30
    assert failure_headers(error) == {"x-gatewise-attempted-retries": "2",
                                      "x-gatewise-attempted-fallbacks": "2"}
    text = str(error) + repr(error) + "".join(error.__notes__) + repr(attempts_of(error))
    assert SECRET not in text + repr(router) + repr(router.deployments)


async def test_a_group_with_nothing_available_falls_back() -> None:
    model_list = group("small", "a", rpm=1) + group("large", "c")
    router, _, _ = make(model_list, fallbacks=[{"small": ["large"]}])
    assert await served_by(router, "small") == "a"
    result = await router.acompletion_dict("small", HELLO)
    assert result.deployment_id == "c"
    assert isinstance(result.attempts[0].error, RateLimitError)


# -- streams ---------------------------------------------------------------------------------

async def test_a_stream_silent_past_stream_timeout_fails_over() -> None:
    router, client, _ = make(group("g", "stall", stream_timeout=0.05) + group("g", "ok"),
                             routing_strategy="least-busy")
    client.script("stall", Sleep(5.0), Sleep(5.0))
    result = await router.acompletion_dict("g", HELLO, stream=True)
    chunks = [c async for c in result.response]  # type: ignore[union-attr]
    assert result.deployment_id == "ok" and len(chunks) == 3
    if result.attempts:
        assert isinstance(result.attempts[0].error, APITimeoutError)
    assert client.open_streams == 0


async def test_after_the_first_chunk_a_stream_is_never_switched() -> None:
    router, client, _ = make(group("g", "a", "b"))
    client.script("a", BreakAfter(1, APIConnectionError("cut")))
    client.script("b", BreakAfter(1, APIConnectionError("cut")))
    result = await router.acompletion_dict("g", HELLO, stream=True)
    stream: Any = result.response
    first = await stream.__anext__()
    assert first["choices"][0]["delta"]["content"].endswith(":0")
    with pytest.raises(APIConnectionError):
        await stream.__anext__()
    assert len(client.calls) == 1
    assert {h.id: h.in_flight for h in await router.ahealth()} == {"a": 0, "b": 0}
    assert {h.id: h.failures_last_minute for h in await router.ahealth()}[
        result.deployment_id] == 1


async def test_in_flight_is_released_when_a_stream_ends_or_is_closed() -> None:
    router, _, _ = make(group("g", "a"))
    result = await router.acompletion_dict("g", HELLO, stream=True)
    assert (await router.ahealth())[0].in_flight == 1
    assert len([c async for c in result.response]) == 3  # type: ignore[union-attr]
    health = (await router.ahealth())[0]
    assert health.in_flight == 0 and health.time_to_first_token is not None
    assert health.tokens_this_minute == 8  # the usage in the last chunk, not the estimate
    result = await router.acompletion_dict("g", HELLO, stream=True)
    await result.response.aclose()  # type: ignore[union-attr]
    assert (await router.ahealth())[0].in_flight == 0


async def test_a_stream_dropped_half_read_is_released_soon_and_only_once() -> None:
    router, _, _ = make(group("g", "a"))
    released = 0
    store_release = router.store.release

    async def counting(*args: Any, **kwargs: Any) -> None:
        nonlocal released
        released += 1
        await store_release(*args, **kwargs)

    router.store.release = counting  # type: ignore[method-assign]
    result = await router.acompletion_dict("g", HELLO, stream=True)
    stream: Any = result.response
    await stream.__anext__()
    del result, stream  # no aclose: dropped after a `break`, say
    for _ in range(3):
        await asyncio.sleep(0)
    assert (await router.ahealth())[0].in_flight == 0 and released == 1
    async with (await router.acompletion_dict("g", HELLO, stream=True)).response as stream:
        assert len([c async for c in stream]) == 3  # type: ignore[union-attr]
        await stream.aclose()  # type: ignore[union-attr]
    assert (await router.ahealth())[0].in_flight == 0 and released == 2


async def test_stream_open_errors_are_retried_like_any_other() -> None:
    router, client, _ = make(group("g", "a", "b"))
    client.script("a", InternalServerError("x"))
    while client.served("a") == 0:
        result = await router.acompletion_dict("g", HELLO, stream=True)
    assert result.retries == 1 and result.deployment_id == "b"
    assert len([c async for c in result.response]) == 3  # type: ignore[union-attr]


# -- the event loop --------------------------------------------------------------------------

async def test_waiting_never_blocks_the_event_loop() -> None:
    router, client, _ = make(group("g", "a"))
    client.script("a", RateLimitError("r", retry_after=0.2), Sleep(0.1))
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    await served_by(router)
    beat.cancel()
    assert ticks >= 15  # ~0.3 s of waiting, the loop kept turning


async def test_embeddings_route_too() -> None:
    router, client, _ = make(group("e", "a", "b"))
    client.script("a", InternalServerError("x"))
    while client.served("a") == 0:
        result = await router.aembedding_dict("e", ["one", "two"])
    assert result.deployment_id == "b" and result.response["object"] == "list"


def test_the_prompt_estimate_counts_the_characters_of_every_text_but_roles() -> None:
    from gatewise.router._attempt import estimate_tokens

    class Text(str):
        pass

    messages = [{"role": "system", "content": "a" * 40},
                {"role": "user", "content": [{"type": "text", "text": "b" * 36}]},
                {"role": "assistant", "content": Text("c" * 40), "tool_calls": ({"x": 1},)}]
    # 40 + (4 "text" + 36) + 40 characters: 120 / 4; roles and numbers are not counted
    assert estimate_tokens(messages) == 30
    assert estimate_tokens("") == 1 and estimate_tokens(None) == 1
    assert estimate_tokens(["abcd", "efgh"]) == 2
