"""Streaming through the public API: chunk shapes, usage, tools, rebuild, early close; sync,
and async over both asyncio transports."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import gatewise
from gatewise import stream_chunk_builder
from tests._transports import ASYNC_TRANSPORTS, make_transport
from tests.fake_mistral import FakeMistral
from tests.sdk.conftest import HELLO, MODEL, SDK
from tests.sdk.test_chat import WEATHER_TOOL


@pytest.fixture(params=["sync", "async", "lean"])
def sdk(request: pytest.FixtureRequest, fake_mistral: FakeMistral) -> SDK:
    return SDK(request.param, fake_mistral)


def test_chunks_are_openai_shaped(sdk: SDK) -> None:
    chunks = sdk.stream()
    assert len(chunks) > 2
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the fake Mistral server."
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    assert sdk.last_body()["stream"] is True
    assert "stream_options" not in sdk.last_body()


def test_include_usage_is_emitted_once_the_openai_way(sdk: SDK) -> None:
    chunks = sdk.stream(stream_options={"include_usage": True})
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert [c for c in chunks if c.usage is not None] == [chunks[-1]]
    assert "stream_options" not in sdk.last_body()


def test_streamed_tool_calls_have_an_index(sdk: SDK) -> None:
    chunks = sdk.stream(tools=[WEATHER_TOOL], tool_choice="required",
                        messages=[{"role": "user", "content": "Weather in Paris?"}])
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert len(calls) == 1
    assert calls[0].index == 0
    assert calls[0].type == "function"
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments or "")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_rebuilt_stream_equals_the_plain_answer(sdk: SDK) -> None:
    plain = sdk.completion()
    rebuilt = stream_chunk_builder(sdk.stream())
    assert rebuilt.choices[0].message.content == plain.choices[0].message.content
    assert rebuilt.choices[0].finish_reason == plain.choices[0].finish_reason
    assert rebuilt.usage == plain.usage


def test_breaking_early_closes_the_connection(fake_mistral: FakeMistral) -> None:
    fake_mistral.stream_delay = 0.05
    client = gatewise.Client(api_key="test-key", api_base=fake_mistral.base_url)
    for _chunk in client.completion(MODEL, HELLO, stream=True):
        break
    assert fake_mistral.disconnected.wait(5)
    client.close()


def test_stream_is_a_context_manager(fake_mistral: FakeMistral) -> None:
    fake_mistral.stream_delay = 0.05
    client = gatewise.Client(api_key="test-key", api_base=fake_mistral.base_url)
    with client.completion(MODEL, HELLO, stream=True) as stream:  # type: ignore[union-attr]
        next(iter(stream))
    assert fake_mistral.disconnected.wait(5)
    with pytest.raises(StopIteration):
        next(stream)  # type: ignore[call-overload]
    client.close()


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
async def test_async_stream_closes_on_aclose(fake_mistral: FakeMistral, transport: str) -> None:
    fake_mistral.stream_delay = 0.05
    async with gatewise.AsyncClient(api_key="test-key", api_base=fake_mistral.base_url,
                                    transport=make_transport(transport)) as c:
        async with await c.completion(MODEL, HELLO, stream=True) as stream:  # type: ignore[union-attr]
            async for _chunk in stream:
                break
        assert await asyncio.to_thread(fake_mistral.disconnected.wait, 5)


@pytest.mark.parametrize("options", [{}, {"stream_options": {"include_usage": True}},
                                     {"tools": [WEATHER_TOOL], "tool_choice": "required"}])
def test_a_relayed_stream_says_what_the_chunks_say(sdk: SDK, options: dict[str, Any]) -> None:
    """``completion_sse`` (what the proxy relays) gives the same events as the chunk stream,
    and its usage."""
    chunks = [c.model_dump(exclude_none=True) for c in sdk.stream(**options)]
    events, usage = sdk.relayed(**options)
    assert _without_none(events) == _without_none(chunks)
    assert usage == next(c["usage"] for c in events if c.get("usage"))


def _without_none(value: Any) -> Any:
    """Nones dropped; ids and timestamps blanked (each call has its own)."""
    if isinstance(value, dict):
        return {k: "" if k in ("id", "created") else _without_none(v)
                for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value
