"""Code completion, moderation and native calls through the router, against two fake
Mistral servers (one per deployment): routed exactly like chat -- retries elsewhere,
cooldowns, fallbacks, a stream failed over before its first chunk -- and the sync twins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest

from gatewise import BadRequestError, ModerationResponse, RateLimitError
from gatewise.router import Router
from gatewise.types import TextCompletionResponse
from tests.fake_mistral import FakeMistral, Status
from tests.fake_mistral.server import FIM_TEXT
from tests.router._helpers import FakeClock

Fakes = dict[str, FakeMistral]
CODESTRAL = "mistral/codestral-latest"
MODERATION = "mistral/mistral-moderation-latest"


@pytest.fixture(scope="module")
def servers() -> Iterator[Fakes]:
    with FakeMistral() as a, FakeMistral() as b:
        yield {"a": a, "b": b}


@pytest.fixture
def fakes(servers: Fakes) -> Fakes:
    for fake in servers.values():
        fake.reset()
    return servers


def on(fakes: Fakes, name: str, server: str, model: str) -> dict[str, Any]:
    return {"model_name": name, "model_info": {"id": server},
            "params": {"model": model, "api_key": "test-key",
                       "api_base": fakes[server].base_url}}


@pytest.fixture
async def make(fakes: Fakes) -> AsyncIterator[Any]:
    routers: list[Router] = []

    def build(model_list: list[dict[str, Any]], **settings: Any) -> Router:
        settings.setdefault("seed", 3)
        settings.setdefault("retry_backoff", 0.001)
        router = Router(model_list, clock=FakeClock(1000.0), **settings)
        routers.append(router)
        return router

    yield build
    for router in routers:
        await router.aclose()


async def test_a_failing_deployment_is_retried_elsewhere_then_cooled_down(
        fakes: Fakes, make: Any) -> None:
    fakes["a"].script(*[Status(500)] * 10)
    router = make([on(fakes, "code", "a", CODESTRAL), on(fakes, "code", "b", CODESTRAL)],
                  allowed_fails=1, cooldown_time=60)
    for _ in range(6):
        result = await router.atext_completion_dict("code", "def f(")
        assert result.deployment_id == "b"
        assert result.response["choices"][0]["text"] == FIM_TEXT
    assert len(fakes["a"].requests) == 1  # failed once, then benched
    health = {h.id: h for h in await router.ahealth()}
    assert health["a"].status == "cooling_down"


async def test_a_stream_fails_over_before_its_first_chunk(fakes: Fakes, make: Any) -> None:
    fakes["a"].script(Status(503))
    fakes["b"].script(Status(503))
    router = make([on(fakes, "code", "a", CODESTRAL), on(fakes, "code", "b", CODESTRAL)])
    result = await router.atext_completion_sse("code", "def f(", stream=True)
    blocks = [block async for block in result.response]  # type: ignore[union-attr]
    events = [orjson.loads(e[6:]) for e in b"".join(blocks).split(b"\n\n") if e]
    assert "".join(e["choices"][0]["text"] for e in events if e["choices"]) == FIM_TEXT
    assert result.retries == 2  # each failed once; the third attempt streamed
    assert len(fakes["a"].requests) + len(fakes["b"].requests) == 3
    assert {h.in_flight for h in await router.ahealth()} == {0}


async def test_moderation_falls_back_to_another_group(fakes: Fakes, make: Any) -> None:
    fakes["a"].script(*[Status(429, headers={"Retry-After": "30"})] * 3)
    router = make([on(fakes, "mod", "a", MODERATION), on(fakes, "backup", "b", MODERATION)],
                  fallbacks=[{"mod": ["backup"]}], num_retries=0)
    result = await router.amoderation_dict("mod", ["hello", "kill"])
    assert result.deployment_id == "b" and result.fallbacks == 1
    assert [r["flagged"] for r in result.response["results"]] == [False, True]
    typed = await router.amoderation("backup", "hi")
    assert isinstance(typed, ModerationResponse) and typed.cost == 0.0


async def test_native_calls_are_routed_and_streams_counted(fakes: Fakes, make: Any) -> None:
    router = make([on(fakes, "code", "a", CODESTRAL), on(fakes, "mod", "b", MODERATION)])
    result = await router.anative("mod", {"input": "x"}, endpoint="/classifications")
    assert result.deployment_id == "b" and len(result.response["results"]) == 1
    streamed = await router.anative("code", {"prompt": "def f(", "stream": True},
                                    endpoint="/fim/completions")
    stream = streamed.response
    assert b"chat.completion.chunk" in b"".join([b async for b in stream])  # type: ignore[union-attr]
    assert stream.usage["total_tokens"] > 0  # type: ignore[union-attr]
    assert {h.in_flight for h in await router.ahealth()} == {0}


async def test_bad_requests_are_not_retried(fakes: Fakes, make: Any) -> None:
    router = make([on(fakes, "code", "a", CODESTRAL), on(fakes, "code", "b", CODESTRAL)])
    with pytest.raises(BadRequestError):
        await router.atext_completion("code", "def f(", logprobs=3)
    with pytest.raises(BadRequestError, match="does not do moderation"):
        await router.amoderation("code", "hi")
    assert len(fakes["a"].requests) + len(fakes["b"].requests) == 0


def test_the_sync_twins(fakes: Fakes) -> None:
    with Router([on(fakes, "code", "a", CODESTRAL), on(fakes, "mod", "b", MODERATION)],
                seed=1) as router:
        response = router.text_completion("code", "def f(", suffix="x")
        assert isinstance(response, TextCompletionResponse) and response.cost
        chunks = list(router.text_completion("code", "def f(", stream=True))  # type: ignore[arg-type]
        assert "".join(c.choices[0].text for c in chunks if c.choices) == FIM_TEXT
        assert router.moderation("mod", "kill").results[0].flagged is True
        fakes["b"].script(*[Status(429, headers={"Retry-After": "0"})] * 3)
        with pytest.raises(RateLimitError):
            router.moderation("mod", "hi", num_retries=0)
