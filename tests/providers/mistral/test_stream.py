"""Streams: Mistral chunks -> OpenAI chat.completion.chunk dicts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gatewise._exceptions import InternalServerError
from gatewise.providers.mistral import stream_translator
from tests.providers.mistral._helpers import MODEL

ID, CREATED = "b5810ef13dbb4811a20d34e1393d8431", 1787865810
USAGE = {"prompt_tokens": 19, "total_tokens": 21, "completion_tokens": 2,
         "prompt_tokens_details": {"cached_tokens": 0}, "service_tier": "standard"}
OPENAI_USAGE = {"prompt_tokens": 19, "completion_tokens": 2, "total_tokens": 21,
                "prompt_tokens_details": {"cached_tokens": 0}}

# vercel/ai live capture, 2026-08: padding `p`, usage on the last chunk.
TEXT_STREAM = [json.loads(line) for line in """\
{"id":"b5810ef13dbb4811a20d34e1393d8431","object":"chat.completion.chunk","created":1787865810,"model":"mistral-small-latest","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}
{"id":"b5810ef13dbb4811a20d34e1393d8431","object":"chat.completion.chunk","created":1787865810,"model":"mistral-small-latest","choices":[{"index":0,"delta":{"content":"OK"},"finish_reason":null,"logprobs":null}],"p":"abcdefghijklmnopqrstuvwxyz0123456789"}
{"id":"b5810ef13dbb4811a20d34e1393d8431","object":"chat.completion.chunk","created":1787865810,"model":"mistral-small-latest","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"total_tokens":21,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":0},"service_tier":"standard"},"p":"abcdef"}
""".splitlines()]


def _event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def run(events: list[dict[str, Any]], **params: Any) -> list[dict[str, Any]]:
    translator = stream_translator(MODEL, params)
    out = [chunk for event in events for chunk in translator.feed(event)]
    return out + translator.finish()


def joined(chunks: list[dict[str, Any]], key: str) -> str:
    return "".join(c["choices"][0]["delta"].get(key) or "" for c in chunks if c["choices"])


def test_text_stream() -> None:
    assert run(TEXT_STREAM) == [
        {"id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": None}]},
        {"id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
         "choices": [{"index": 0, "delta": {"content": "OK"}, "finish_reason": None}]},
        {"id": ID, "object": "chat.completion.chunk", "created": CREATED, "model": MODEL,
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "usage": OPENAI_USAGE},
    ]


def test_first_delta_has_the_role_even_when_mistral_omits_it() -> None:
    chunks = run([_event({"content": "Hi"}), _event({"content": "!"}, "stop")])
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}
    assert "role" not in chunks[1]["choices"][0]["delta"]


def test_include_usage_moves_usage_to_one_final_chunk() -> None:
    chunks = run(TEXT_STREAM, stream_options={"include_usage": True})
    assert [c for c in chunks if "usage" in c] == [chunks[-1]]
    assert chunks[-1] == {"id": ID, "object": "chat.completion.chunk", "created": CREATED,
                          "model": MODEL, "choices": [], "usage": OPENAI_USAGE}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_usage_appears_exactly_once_by_default() -> None:
    assert sum("usage" in c for c in run(TEXT_STREAM)) == 1


@pytest.mark.parametrize("options", [None, {}, {"include_usage": False}])
def test_other_stream_options_keep_usage_on_the_last_chunk(options: Any) -> None:
    chunks = run(TEXT_STREAM, stream_options=options)
    assert chunks[-1]["usage"] == OPENAI_USAGE
    assert chunks[-1]["choices"]


def test_usage_on_a_chunk_without_choices() -> None:
    events = [_event({"content": "x"}, "stop"),
              {"id": ID, "object": "chat.completion.chunk", "created": CREATED,
               "model": MODEL, "choices": [], "usage": USAGE}]
    assert run(events)[-1] == {"id": ID, "object": "chat.completion.chunk",
                               "created": CREATED, "model": MODEL, "choices": [],
                               "usage": OPENAI_USAGE}


def test_tool_calls_get_index_id_and_type_counting_across_chunks() -> None:
    events = [
        _event({"role": "assistant", "content": ""}),
        _event({"content": None, "tool_calls": [
            {"id": "gSIMJiOkT", "function": {"name": "weather",
                                             "arguments": '{"location": "Paris"}'}},
            {"id": "D681PevKs", "function": {"name": "time", "arguments": {"tz": "CET"}},
             "index": 7}]}),
        _event({"tool_calls": [{"id": "abcdefghi", "type": "function",
                                "function": {"name": "news", "arguments": "{}"}}]},
               "tool_calls", usage=USAGE),
    ]
    chunks = run(events)
    calls = [call for c in chunks for call in c["choices"][0]["delta"].get("tool_calls", [])]
    assert calls == [
        {"index": 0, "id": "gSIMJiOkT", "type": "function",
         "function": {"name": "weather", "arguments": '{"location": "Paris"}'}},
        {"index": 1, "id": "D681PevKs", "type": "function",
         "function": {"name": "time", "arguments": '{"tz": "CET"}'}},
        {"index": 2, "id": "abcdefghi", "type": "function",
         "function": {"name": "news", "arguments": "{}"}},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert "content" not in chunks[1]["choices"][0]["delta"]


def test_model_length_becomes_length() -> None:
    chunks = run([_event({"content": "abc"}, "model_length")])
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_thinking_chunks_become_reasoning_content() -> None:
    # magistral-medium-2507 capture (vercel/ai): thinking lists, then text lists.
    events = [
        _event({"role": "assistant", "content": [
            {"type": "thinking", "thinking": [{"type": "text", "text": "The user is asking"}]}]}),
        _event({"content": [{"type": "thinking",
                             "thinking": [{"type": "text", "text": " for 2+2."}]}]}),
        _event({"content": [{"type": "text", "text": "2 + 2 = 4"}]}),
        _event({"content": ""}, "stop", usage=USAGE),
    ]
    chunks = run(events)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "",
                                                "reasoning_content": "The user is asking"}
    assert joined(chunks, "reasoning_content") == "The user is asking for 2+2."
    assert joined(chunks, "content") == "2 + 2 = 4"


def test_think_tags_split_across_chunks() -> None:
    pieces = ["<th", "ink>\nHmm", ", 4.\n</thi", "nk>\n\n", "Four", "."]
    chunks = run([_event({"content": p}) for p in pieces] + [_event({}, "stop")])
    assert joined(chunks, "reasoning_content") == "Hmm, 4."
    assert joined(chunks, "content") == "Four."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_held_text_is_released_by_finish_when_no_finish_reason_came() -> None:
    chunks = run([_event({"content": "a <"})])
    assert joined(chunks, "content") == "a <"


def test_mid_stream_error_event_raises() -> None:
    translator = stream_translator(MODEL, {})
    with pytest.raises(InternalServerError, match="overloaded"):
        translator.feed({"object": "error", "message": "overloaded", "type": "internal"})


def test_several_choices_are_tracked_apart() -> None:
    event = {"id": ID, "created": CREATED, "model": MODEL, "choices": [
        {"index": 0, "delta": {"content": "a"}, "finish_reason": None},
        {"index": 1, "delta": {"content": "b"}, "finish_reason": None}]}
    chunk = run([event])[0]
    assert [c["delta"] for c in chunk["choices"]] == [
        {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]
