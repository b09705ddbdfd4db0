"""Non-streamed answers: Mistral's chat completion -> OpenAI's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gatewise.providers.mistral import parse_chat_response
from tests.providers.mistral._helpers import MODEL

# Real 2026 body (reference §4), with the keys Mistral adds now and then.
TEXT_ANSWER: dict[str, Any] = {
    "id": "a2984449b4204304a731f30927977d5c", "created": 1787865809,
    "model": "mistral-small-latest",
    "usage": {"prompt_tokens": 19, "total_tokens": 21, "completion_tokens": 2,
              "prompt_tokens_details": {"cached_tokens": 0}, "service_tier": "standard"},
    "object": "chat.completion",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                 "prompt_logprobs": None,
                 "message": {"role": "assistant", "tool_calls": None, "content": "OK",
                             "prefix": False}}],
}
TOOL_ANSWER: dict[str, Any] = {
    "id": "b3999b8c", "created": 1769088854, "model": "pixtral-12b",
    "usage": {"prompt_tokens": 124, "total_tokens": 146, "completion_tokens": 22},
    "object": "chat.completion",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "content": "", "role": "assistant", "tool_calls": [
            {"function": {"arguments": "{}", "name": "get_image"}, "id": "9v45XkLNV",
             "index": 0},
            {"function": {"arguments": {"city": "Paris"}, "name": "get_weather"},
             "id": "gSIMJiOkT", "index": 1, "type": "function"}]}}],
}
# mistral-large-4 with reasoning_effort="high" (vercel/ai live capture, 2026-10).
REASONING_ANSWER: dict[str, Any] = {
    "id": "ef8044c3360843bdb1f55527e6c004fd", "created": 1791319070, "model": "mistral-large-4",
    "usage": {"prompt_tokens": 26, "total_tokens": 138, "completion_tokens": 112},
    "object": "chat.completion",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "tool_calls": None, "content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "Count the r's: 3."}],
             "closed": True},
            {"type": "text", "text": "3"}]}}],
}


def test_text_answer() -> None:
    assert parse_chat_response(TEXT_ANSWER, model=MODEL) == {
        "id": "a2984449b4204304a731f30927977d5c", "object": "chat.completion",
        "created": 1787865809, "model": "mistral-small-latest",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 19, "completion_tokens": 2, "total_tokens": 21,
                  "prompt_tokens_details": {"cached_tokens": 0}},
    }


def test_tool_calls_answer() -> None:
    message = parse_chat_response(TOOL_ANSWER, model=MODEL)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "9v45XkLNV", "type": "function",
         "function": {"name": "get_image", "arguments": "{}"}},
        {"id": "gSIMJiOkT", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}


def test_thinking_chunks_become_reasoning_content() -> None:
    message = parse_chat_response(REASONING_ANSWER, model=MODEL)["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "3",
                       "reasoning_content": "Count the r's: 3."}


@pytest.mark.parametrize(("content", "reasoning", "text"), [
    ("<think>\nAdd 2 and 2.\n</think>\n\n4", "Add 2 and 2.", "4"),
    ("<think>Still thinking", "Still thinking", ""),
    ("No thinking here.", None, "No thinking here."),
])
def test_think_tags_in_string_content_are_split(content: str, reasoning: str | None,
                                                text: str) -> None:
    answer = copy.deepcopy(TEXT_ANSWER)
    answer["choices"][0]["message"]["content"] = content
    message = parse_chat_response(answer, model=MODEL)["choices"][0]["message"]
    assert message["content"] == text
    assert message.get("reasoning_content") == reasoning
    assert ("reasoning_content" in message) is (reasoning is not None)


@pytest.mark.parametrize(("given", "expected"), [
    ("stop", "stop"), ("length", "length"), ("model_length", "length"),
    ("tool_calls", "tool_calls"), ("error", "error"), (None, None)])
def test_finish_reason(given: str | None, expected: str | None) -> None:
    answer = copy.deepcopy(TEXT_ANSWER)
    answer["choices"][0]["finish_reason"] = given
    assert parse_chat_response(answer, model=MODEL)["choices"][0]["finish_reason"] == expected


def test_unknown_keys_anywhere_are_tolerated() -> None:
    answer = copy.deepcopy(TOOL_ANSWER)
    answer["p"] = "abcdef"
    answer["choices"][0]["new"] = {"x": 1}
    answer["choices"][0]["message"]["audio"] = None
    answer["choices"][0]["message"]["tool_calls"][0]["extra"] = 1
    answer["usage"]["prompt_audio_seconds"] = None
    assert parse_chat_response(answer, model=MODEL) == parse_chat_response(TOOL_ANSWER,
                                                                            model=MODEL)


def test_missing_optional_keys_get_defaults() -> None:
    parsed = parse_chat_response({"choices": [{"message": {"content": "hi"}}]}, model=MODEL)
    assert parsed["model"] == MODEL
    assert parsed["object"] == "chat.completion"
    assert isinstance(parsed["created"], int)
    assert parsed["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                  "finish_reason": None}]
    assert parsed["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_odd_shapes_do_not_crash() -> None:
    parsed = parse_chat_response({"choices": [None, {"message": None}, {
        "message": {"content": [{"type": "reference", "reference_ids": [1]}, "x", 3],
                    "tool_calls": [None, {"id": "abcdefghi"}]}}]}, model=MODEL)
    assert parsed["choices"][0]["message"] == {"role": "assistant", "content": ""}
    assert parsed["choices"][1]["message"]["content"] == "x"
    assert parsed["choices"][1]["message"]["tool_calls"] == [
        {"id": "abcdefghi", "type": "function", "function": {"name": "", "arguments": "{}"}}]


def test_total_tokens_computed_when_missing() -> None:
    parsed = parse_chat_response(
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}, model=MODEL)
    assert parsed["usage"]["total_tokens"] == 7


def test_the_body_is_not_mutated() -> None:
    before = copy.deepcopy(REASONING_ANSWER)
    parse_chat_response(REASONING_ANSWER, model=MODEL)
    assert before == REASONING_ANSWER
