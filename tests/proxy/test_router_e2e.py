"""The router through the proxy: the real CLI in a subprocess in front of several fake
Mistral servers (one per deployment), driven by the ``openai`` package.

Each test arms the servers (fail, slow, rate-limited), sends calls through the proxy and
checks where they landed (``fake.requests``) and what the proxy said about it (the
``x-gatewise-*`` headers, ``/health``).  The proxies run on a real clock with short cooldowns:
a test that benches a deployment waits for it to come back, so the next one starts clean.
Choices are reproducible (``router_settings.seed``); the bounds asserted are loose anyway.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import httpx
import openai
import pytest

from tests.fake_mistral import Delay, FakeMistral, Status
from tests.fake_mistral.errors import error_body
from tests.proxy._server import Proxy, inside_a_window, run_proxy_with
from tests.proxy.conftest import HELLO

Fakes = dict[str, FakeMistral]
Headers = Mapping[str, str]
UNSET = "GW_ROUTER_E2E_UNSET_KEY"
TOO_LONG = error_body("Prompt contains 40000 tokens, too large for model with 32768 maximum "
                      "context length", "invalid_request_error", "3051")
SMALL, LARGE = "mistral/mistral-small-latest", "mistral/mistral-large-latest"


def entry(servers: Fakes, name: str, server: str, id: str | None = None,
          model: str = SMALL, **params: Any) -> dict[str, Any]:
    """A deployment of ``name`` served by fake ``server`` (its id is ``server``)."""
    return {"model_name": name, "model_info": {"id": id or server},
            "litellm_params": {"model": model, "api_key": "test-key",
                               "api_base": servers[server].base_url, **params}}


def strategy_config(servers: Fakes, strategy: str) -> dict[str, Any]:
    """Three deployments of ``small`` on a, b and c."""
    extra: dict[str, dict[str, Any]] = {
        "simple-shuffle": {"a": {"weight": 1}, "b": {"weight": 1}, "c": {"weight": 4}},
        "usage-based": {"a": {"rpm": 100}, "b": {"rpm": 10}, "c": {"rpm": 10}},
    }.get(strategy, {})
    return {"model_list": [entry(servers, "small", s, **extra.get(s, {})) for s in "abc"],
            "router_settings": {"routing_strategy": strategy, "seed": 5}}


def cooldown_config(servers: Fakes) -> dict[str, Any]:
    """Two deployments of ``small`` (and one left out: its key is not set)."""
    unset = {"model_name": "small", "litellm_params": {
        "model": SMALL, "api_key": f"os.environ/{UNSET}", "api_base": servers["c"].base_url}}
    return {"model_list": [entry(servers, "small", "a"), entry(servers, "small", "b"), unset],
            "router_settings": {"num_retries": 2, "allowed_fails": 2, "cooldown_time": 1,
                                "seed": 7}}


def fallback_config(servers: Fakes) -> dict[str, Any]:
    ghost = {"model_name": "ghost", "litellm_params": {"model": SMALL,
                                                       "api_key": f"os.environ/{UNSET}"}}
    embed = {"model": "mistral/mistral-embed"}
    return {
        "model_list": [
            entry(servers, "small", "a"), entry(servers, "small", "b"),
            entry(servers, "large", "c", "large-c", LARGE),
            entry(servers, "big", "d", "big-d", LARGE),
            entry(servers, "embed", "a", "embed-a", **embed),
            entry(servers, "embed", "b", "embed-b", **embed), ghost],
        "router_settings": {
            "num_retries": 1, "allowed_fails": 1, "cooldown_time": 0.3, "retry_backoff": 0.02,
            "seed": 3, "fallbacks": [{"small": ["large"]}, {"ghost": ["small"]}],
            "context_window_fallbacks": [{"small": ["big"]}],
            "model_group_alias": {"fast": "small",
                                  "quiet": {"model": "small", "hidden": True}}},
    }


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    with FakeMistral() as a, FakeMistral() as b, FakeMistral() as c, FakeMistral() as d:
        yield {"a": a, "b": b, "c": c, "d": d}


@pytest.fixture
def fakes(servers: Fakes) -> Fakes:
    for fake in servers.values():
        fake.reset()
    return servers


CONFIGS: dict[str, Callable[[Fakes], dict[str, Any]]] = {
    "shuffle": lambda servers: strategy_config(servers, "simple-shuffle"),
    "least-busy": lambda servers: strategy_config(servers, "least-busy"),
    "latency": lambda servers: strategy_config(servers, "latency-based"),
    "usage": lambda servers: strategy_config(servers, "usage-based"),
    "cooldowns": cooldown_config,
    "fallbacks": fallback_config,
}


@pytest.fixture(scope="module")
def proxies(servers: Fakes, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, Proxy]]:
    """One proxy per config, started (and stopped) side by side."""
    managers = {}
    for name, make in CONFIGS.items():
        workdir = tmp_path_factory.mktemp(name)
        managers[name] = run_proxy_with(make(servers), workdir)
    with ThreadPoolExecutor(len(managers)) as pool:
        starting = {name: pool.submit(m.__enter__) for name, m in managers.items()}
        wait(starting.values())

    def stop_all(names: list[str]) -> None:
        with ThreadPoolExecutor(len(managers)) as pool:
            for future in [pool.submit(managers[n].__exit__, None, None, None) for n in names]:
                future.result()

    started = [n for n, f in starting.items() if f.exception() is None]
    failed = [error for f in starting.values() if (error := f.exception()) is not None]
    if failed:
        stop_all(started)
        raise failed[0]
    try:
        yield {name: future.result() for name, future in starting.items()}
    finally:
        stop_all(started)


@pytest.fixture
def cooldowns(proxies: dict[str, Proxy], fakes: Fakes) -> Proxy:
    return settled(proxies["cooldowns"])


@pytest.fixture
def fallbacks(proxies: dict[str, Proxy], fakes: Fakes) -> Proxy:
    return settled(proxies["fallbacks"])


# -- helpers ----------------------------------------------------------------------------------

def api(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + "/v1", api_key="unused", max_retries=0)


def chat(client: openai.OpenAI, model: str = "small", **params: Any) -> Headers:
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO,
                                                           **params)
    assert raw.parse().choices[0].message.content == "Hello from the fake Mistral server."
    return raw.headers


def routing(headers: Headers) -> tuple[str, str, str]:
    """(deployment id, retries, fallbacks) from a response's headers."""
    return (headers["x-gatewise-model-id"], headers["x-gatewise-attempted-retries"],
            headers["x-gatewise-attempted-fallbacks"])


def counts(fakes: Fakes) -> dict[str, int]:
    return {name: len(fake.requests) for name, fake in fakes.items()}


def health(proxy: Proxy) -> dict[str, dict[str, Any]]:
    report = httpx.get(proxy.url + "/health").json()
    return {e["id"]: e for e in report["healthy_endpoints"] + report["unhealthy_endpoints"]}


def settled(proxy: Proxy, timeout: float = 3.0) -> Proxy:
    """Wait until no deployment of ``proxy`` is cooling down."""
    deadline = time.monotonic() + timeout
    while any(e["status"] == "cooling_down" for e in health(proxy).values()):
        assert time.monotonic() < deadline, health(proxy)
        time.sleep(0.05)
    return proxy


def until_hit(client: openai.OpenAI, fake: FakeMistral, times: int = 1, limit: int = 40
              ) -> list[Headers]:
    """Send calls until ``fake`` has had ``times`` requests; every call must succeed."""
    answers: list[Headers] = []
    while len(fake.requests) < times:
        assert len(answers) < limit, f"{fake.base_url} was never picked"
        answers.append(chat(client))
    return answers


# -- each strategy sends traffic where it should ----------------------------------------------

def test_simple_shuffle_splits_by_weight(proxies: dict[str, Proxy], fakes: Fakes) -> None:
    client = api(proxies["shuffle"])
    served = Counter(routing(chat(client))[0] for _ in range(60))
    assert served == {k: v for k, v in counts(fakes).items() if v}  # the header is the truth
    assert 28 <= served["c"] <= 52 and served["a"] >= 2 and served["b"] >= 2


async def test_least_busy_keeps_traffic_off_the_slow_deployment(
        proxies: dict[str, Proxy], fakes: Fakes) -> None:
    proxy = proxies["least-busy"]
    fakes["a"].script(*[Delay(0.6)] * 3)

    async def later(client: openai.AsyncOpenAI, i: int) -> str:
        await asyncio.sleep(0.025 * i)
        raw = await client.chat.completions.with_raw_response.create(model="small",
                                                                     messages=HELLO)
        return raw.headers["x-gatewise-model-id"]

    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="unused",
                                  max_retries=0) as client:
        served = Counter(await asyncio.gather(*(later(client, i) for i in range(16))))
    assert served["a"] <= 2 and served["b"] + served["c"] >= 14
    assert {e["in_flight"] for e in health(proxy).values()} == {0}


def test_latency_based_prefers_the_fast_deployments(proxies: dict[str, Proxy],
                                                    fakes: Fakes) -> None:
    proxy = proxies["latency"]
    fakes["a"].script(*[Delay(0.1)] * 30)
    client = api(proxy)
    served = Counter(routing(chat(client))[0] for _ in range(30))
    assert served["a"] <= 6 and served["b"] + served["c"] >= 24
    report = health(proxy)
    assert report["a"]["latency"] >= 0.1 > 2 * report["b"]["latency"]


def test_usage_based_spreads_by_headroom(proxies: dict[str, Proxy], fakes: Fakes) -> None:
    proxy = proxies["usage"]
    client = api(proxy)
    inside_a_window(15.0, time.monotonic)  # (usage windows: minutes of the monotonic clock)
    served = Counter(routing(chat(client))[0] for _ in range(30))
    assert served["a"] >= 20 and served["b"] <= 5 and served["c"] <= 5
    report = health(proxy)
    assert sum(e["requests_this_minute"] for e in report.values()) >= 30
    assert report["b"]["rpm"] == 10


# -- failures move traffic away; cooldowns expire ---------------------------------------------

def test_startup_reports_the_left_out_deployment(cooldowns: Proxy) -> None:
    output = cooldowns.output()
    assert f"{UNSET} is not set: model_list[2] (small) left out" in output
    entries = health(cooldowns)
    assert entries["small#2"]["status"] == "unavailable"
    assert entries["small#2"]["error"] == f"{UNSET} is not set"


def test_a_failing_deployment_is_benched_then_comes_back(cooldowns: Proxy,
                                                         fakes: Fakes) -> None:
    fakes["a"].script(*[Status(500)] * 40)
    client = api(cooldowns)
    tried = [h for h in until_hit(client, fakes["a"], times=2) if h["x-gatewise-model-id"]]
    assert {routing(h)[0] for h in tried} == {"b"}  # each failure was retried on b
    assert sum(routing(h)[1] == "1" for h in tried) == 2
    assert [routing(chat(client)) for _ in range(8)] == [("b", "0", "0")] * 8
    assert counts(fakes)["a"] == 2  # allowed_fails: 2, then it sat out
    entries = health(cooldowns)
    assert entries["a"]["status"] == "cooling_down"
    assert 0 < entries["a"]["cooldown_until"] - time.time() <= 1.1
    assert entries["b"]["status"] == "healthy"
    fakes["a"].reset()
    settled(cooldowns)
    served = Counter(routing(chat(client))[0] for _ in range(20))
    assert served["a"] >= 1


def test_a_rejected_key_is_benched_at_once(cooldowns: Proxy, fakes: Fakes) -> None:
    fakes["b"].api_keys = {"someone-else"}
    client = api(cooldowns)
    until_hit(client, fakes["b"])
    assert [routing(chat(client))[0] for _ in range(6)] == ["a"] * 6
    assert counts(fakes)["b"] == 1
    entries = health(cooldowns)
    assert entries["b"]["status"] == "cooling_down"
    assert "test-key" not in json.dumps(entries)


def test_a_rate_limited_deployment_sits_out_its_retry_after(cooldowns: Proxy,
                                                            fakes: Fakes) -> None:
    fakes["a"].script(Status(429, headers={"Retry-After": "2"}))
    client = api(cooldowns)
    (*_, last) = until_hit(client, fakes["a"])
    assert routing(last) == ("b", "1", "0")
    entries = health(cooldowns)
    assert entries["a"]["status"] == "cooling_down"
    assert 1.0 < entries["a"]["cooldown_remaining"] <= 2.0  # the Retry-After, not 1 s


# -- fallbacks fire when they should, and only then -------------------------------------------

def test_no_fallback_when_the_group_serves(fallbacks: Proxy, fakes: Fakes) -> None:
    client = api(fallbacks)
    for _ in range(4):
        deployment, retries, used = routing(chat(client))
        assert deployment in ("a", "b") and (retries, used) == ("0", "0")
    assert counts(fakes)["c"] == counts(fakes)["d"] == 0


def test_fallbacks_fire_when_the_group_is_spent(fallbacks: Proxy, fakes: Fakes) -> None:
    fakes["a"].script(Status(503))
    fakes["b"].script(Status(503))
    assert routing(chat(api(fallbacks))) == ("large-c", "1", "1")
    assert counts(fakes) == {"a": 1, "b": 1, "c": 1, "d": 0}  # not the context-window one
    sent = fakes["c"].requests[0].json
    assert sent is not None and sent["model"] == "mistral-large-latest"


def test_context_window_fallbacks_fire_on_context_window_errors(fallbacks: Proxy,
                                                               fakes: Fakes) -> None:
    fakes["a"].script(Status(400, body=TOO_LONG))
    fakes["b"].script(Status(400, body=TOO_LONG))
    assert routing(chat(api(fallbacks))) == ("big-d", "0", "1")  # never retried in "small"
    got = counts(fakes)
    assert got["a"] + got["b"] == 1 and (got["c"], got["d"]) == (0, 1)


def test_a_fully_failed_call_reports_every_attempt(fallbacks: Proxy, fakes: Fakes) -> None:
    for name in "ab":
        fakes[name].script(Status(500))
    fakes["c"].script(Status(500), Status(500))
    with pytest.raises(openai.InternalServerError) as info:
        chat(api(fallbacks))
    headers = info.value.response.headers
    assert routing(headers) == ("large-c", "2", "1")  # the last one tried
    assert len(headers["x-gatewise-call-id"]) == 32
    message = info.value.response.json()["error"]["message"]
    assert "all 4 attempts failed" in message
    assert "large[large-c]: InternalServerError 500" in message
    assert "small[a]" in message and "small[b]" in message
    assert counts(fakes) == {"a": 1, "b": 1, "c": 2, "d": 0}


def test_a_stream_fails_over_before_its_first_chunk(fallbacks: Proxy, fakes: Fakes) -> None:
    fakes["a"].script(Status(503))
    fakes["b"].script(Status(503))
    raw = api(fallbacks).chat.completions.with_raw_response.create(
        model="small", messages=HELLO, stream=True)
    assert routing(raw.headers) == ("large-c", "1", "1")  # known before the first chunk
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "Hello from the fake Mistral server."


# -- names: aliases, models, a name with nothing to serve it; embeddings ----------------------

def test_aliases_models_and_names_without_a_deployment(fallbacks: Proxy, fakes: Fakes) -> None:
    client = api(fallbacks)
    assert [m.id for m in client.models.list()] == ["small", "large", "big", "embed", "ghost",
                                                    "fast"]  # "quiet" is a hidden alias
    assert routing(chat(client, "fast"))[0] in ("a", "b")
    assert routing(chat(client, "quiet"))[0] in ("a", "b")
    with pytest.raises(openai.NotFoundError) as missing:
        chat(client, "nope")
    assert "Available models: small, large, big, embed, ghost, fast" in str(missing.value)
    with pytest.raises(openai.InternalServerError) as ghost:
        chat(client, "ghost")
    assert ghost.value.status_code == 503
    assert f"{UNSET} is not set" in str(ghost.value)
    assert "router_settings.fallbacks: ghost cannot be served" in fallbacks.output()


def test_embeddings_are_routed_too(fallbacks: Proxy, fakes: Fakes) -> None:
    raw = api(fallbacks).embeddings.with_raw_response.create(model="embed", input=["x", "y"])
    assert [len(d.embedding) for d in raw.parse().data] == [1024, 1024]
    assert routing(raw.headers) in (("embed-a", "0", "0"), ("embed-b", "0", "0"))
    assert float(raw.headers["x-gatewise-response-cost"]) > 0
