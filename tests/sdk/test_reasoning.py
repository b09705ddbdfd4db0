"""Reasoning through the public API, streamed and not, for each way a model thinks."""

from __future__ import annotations

import pytest

from gatewise import stream_chunk_builder
from tests.fake_mistral.answers import DEFAULT_TEXT, THINKING_TEXT
from tests.sdk.conftest import SDK

INSTRUCTION = ("When solving problems, think step-by-step in <think> tags before providing "
               "your final answer.")


def _texts(sdk: SDK, **kw: object) -> tuple[tuple[str | None, str | None], ...]:
    """(reasoning, content) non-streamed, then rebuilt from the stream."""
    plain = sdk.completion(**kw).choices[0].message
    streamed = stream_chunk_builder(sdk.stream(**kw)).choices[0].message
    return (plain.reasoning_content, plain.content), (streamed.reasoning_content,
                                                      streamed.content)


@pytest.mark.parametrize("model", ["magistral-small-2506", "magistral-medium-2506"])
def test_instructed_models_get_the_instruction_and_think_tags_are_split(sdk: SDK, model: str
                                                                         ) -> None:
    plain, streamed = _texts(sdk, model=f"mistral/{model}", reasoning_effort="high")
    assert plain == streamed == (THINKING_TEXT, DEFAULT_TEXT)
    body = sdk.last_body()
    assert "reasoning_effort" not in body
    system = body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith(INSTRUCTION)
    assert "[" not in system["content"] and "\x00" not in system["content"]


def test_instruction_joins_the_callers_system_prompt(sdk: SDK) -> None:
    sdk.completion(model="mistral/magistral-small-2506", reasoning_effort="medium",
                   messages=[{"role": "system", "content": "You are terse."},
                             {"role": "user", "content": "2+2?"}])
    messages = sdk.last_body()["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    instruction, _, theirs = messages[0]["content"].rpartition("\n\n")
    assert instruction.startswith(INSTRUCTION)
    assert theirs == "You are terse."


def test_streamed_think_tags_split_across_chunks_never_leak(sdk: SDK) -> None:
    chunks = sdk.stream(model="mistral/magistral-small-2506", reasoning_effort="high")
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    thinking = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    assert "<" not in content and ">" not in content
    assert content == DEFAULT_TEXT
    assert thinking == THINKING_TEXT


@pytest.mark.parametrize(("asked", "sent"), [("high", "high"), ("medium", "high"),
                                             ("minimal", "none"), ("none", "none")])
def test_native_models_get_the_nearest_level(sdk: SDK, asked: str, sent: str) -> None:
    sdk.completion(model="mistral/mistral-small-latest", reasoning_effort=asked)
    assert sdk.last_body()["reasoning_effort"] == sent


def test_native_thinking_chunks_become_reasoning_content(sdk: SDK) -> None:
    plain, streamed = _texts(sdk, model="mistral/mistral-medium-latest", reasoning_effort="high")
    assert plain == streamed == (THINKING_TEXT, DEFAULT_TEXT)


def test_anthropic_style_thinking_switch_is_a_synonym(sdk: SDK) -> None:
    response = sdk.completion(model="mistral/mistral-small-latest",
                              thinking={"type": "enabled", "budget_tokens": 1024})
    assert sdk.last_body()["reasoning_effort"] == "high"
    assert response.choices[0].message.reasoning_content == THINKING_TEXT


def test_models_that_do_not_reason_drop_the_parameter(sdk: SDK) -> None:
    response = sdk.completion(model="mistral/open-mistral-7b", reasoning_effort="high")
    assert "reasoning_effort" not in sdk.last_body()
    assert response.choices[0].message.content == DEFAULT_TEXT
    assert response.choices[0].message.reasoning_content is None


def test_reasoning_history_goes_back_natively_or_not_at_all(sdk: SDK) -> None:
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "content": "Hello!", "reasoning_content": "be nice"},
               {"role": "user", "content": "again"}]
    sdk.completion(model="mistral/mistral-small-latest", messages=history)
    sent = sdk.last_body()["messages"][1]["content"]
    assert sent[0]["type"] == "thinking"
    assert sent[0]["thinking"][0]["text"] == "be nice"
    assert sent[1] == {"type": "text", "text": "Hello!"}
    sdk.completion(model="mistral/open-mistral-7b", messages=history)
    assert sdk.last_body()["messages"][1] == {"role": "assistant", "content": "Hello!"}
