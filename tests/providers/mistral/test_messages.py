"""Chat history translation: roles, keys, content parts and serving order."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise._exceptions import BadRequestError
from gatewise.providers.mistral.messages import BRIDGE_TEXT
from tests.fake_mistral import semantic_error, validate_body
from tests.providers.mistral._helpers import NATIVE, PLAIN, body

PNG = "data:image/png;base64,iVBORw0KGgo="


def messages(*history: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = body(list(history), **params)["messages"]
    return out


def assert_served(history: list[Any], **params: Any) -> dict[str, Any]:
    """The translated body passes the fake's schema and semantic checks."""
    out = body(history, **params)
    assert validate_body("ChatCompletionRequest", out) == []
    assert semantic_error(out) is None
    return out


# ---- roles and keys ------------------------------------------------------------------

def test_developer_becomes_system() -> None:
    assert messages({"role": "developer", "content": "Be brief."},
                    {"role": "user", "content": "Hi"})[0] == {"role": "system",
                                                               "content": "Be brief."}


@pytest.mark.parametrize(("message", "expected"), [
    ({"role": "system", "content": "s", "name": "boss"}, {"role": "system", "content": "s"}),
    ({"role": "user", "content": "u", "name": "bob", "metadata": {"a": 1}},
     {"role": "user", "content": "u"}),
    ({"role": "assistant", "content": "a", "name": "bot", "refusal": None, "audio": None,
      "annotations": [], "cache_control": {"type": "ephemeral"}, "reasoning_content": "r",
      "function_call": None, "tool_calls": None, "prefix": True},
     {"role": "assistant", "content": "a"}),
    ({"role": "tool", "content": "t", "tool_call_id": "abcdefghi", "name": "get_weather",
      "metadata": {}}, {"role": "tool", "content": "t", "tool_call_id": "abcdefghi",
                        "name": "get_weather"}),
])
def test_unknown_message_keys_are_removed(message: dict[str, Any],
                                          expected: dict[str, Any]) -> None:
    history = [{"role": "user", "content": "q"},
               {"role": "assistant", "tool_calls": [
                   {"id": "abcdefghi", "function": {"name": "get_weather", "arguments": "{}"}}]},
               message, {"role": "user", "content": "end"}]
    out = body(history)["messages"]
    assert expected in out


def test_tool_call_keys_beyond_the_schema_are_removed() -> None:
    history = [{"role": "user", "content": "q"},
               {"role": "assistant", "content": "", "tool_calls": [
                   {"id": "abcdefghi", "type": "function", "index": 0, "name": "f",
                    "function": {"name": "f", "arguments": "{}", "extra": 1}}]},
               {"role": "tool", "tool_call_id": "abcdefghi", "content": "r"}]
    assert body(history)["messages"][1] == {"role": "assistant", "tool_calls": [
        {"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}


def test_invalid_tool_message_name_is_dropped() -> None:
    history = [{"role": "user", "content": "q"},
               {"role": "tool", "tool_call_id": "abcdefghi", "content": "r", "name": "not ok"}]
    assert "name" not in body(history)["messages"][1]


def test_unknown_role_is_refused() -> None:
    with pytest.raises(BadRequestError, match=r"messages\[0\].*'bot'"):
        messages({"role": "bot", "content": "x"})


# ---- system content ------------------------------------------------------------------

def test_system_text_parts_become_text_chunks() -> None:
    out = messages({"role": "system", "content": [
        {"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}, "B"]},
        {"role": "user", "content": "q"})
    assert out[0] == {"role": "system", "content": [{"type": "text", "text": "A"},
                                                   {"type": "text", "text": "B"}]}


def test_system_message_with_an_image_is_refused() -> None:
    with pytest.raises(BadRequestError, match="system"):
        messages({"role": "system", "content": [{"type": "image_url", "image_url": PNG}]})


def test_system_message_without_content_is_left_out() -> None:
    assert messages({"role": "system", "content": None},
                    {"role": "user", "content": "q"}) == [{"role": "user", "content": "q"}]


# ---- content parts -------------------------------------------------------------------

PARTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
     {"type": "text", "text": "hi"}),
    ({"type": "image_url", "image_url": "https://x.test/a.png"},
     {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}),
    ({"type": "image_url", "image_url": PNG},
     {"type": "image_url", "image_url": {"url": PNG}}),
    ({"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
     {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}}),
    ({"type": "image_url", "image_url": {"url": PNG, "detail": "high", "format": "png"}},
     {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}}),
    ({"type": "image_url", "image_url": {"url": PNG, "detail": "original"}},
     {"type": "image_url", "image_url": {"url": PNG}}),
    ({"type": "image_url", "image_url": {"url": PNG, "detail": None}},
     {"type": "image_url", "image_url": {"url": PNG}}),
    ({"type": "document_url", "document_url": "https://x.test/a.pdf", "document_name": "a",
      "x": 1}, {"type": "document_url", "document_url": "https://x.test/a.pdf",
                "document_name": "a"}),
    ({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=",
                               "filename": "a.pdf"}},
     {"type": "document_url", "document_url": "data:application/pdf;base64,JVBERi0=",
      "document_name": "a.pdf"}),
    ({"type": "file", "file": {"file_data": "JVBERi0="}},
     {"type": "document_url", "document_url": "data:application/pdf;base64,JVBERi0="}),
    ({"type": "file", "file": {"file_id": "3b2f1c1e-8f1a-4c5e-9a59-6b1f7b0e8a11"}},
     {"type": "file", "file_id": "3b2f1c1e-8f1a-4c5e-9a59-6b1f7b0e8a11"}),
    ({"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
     {"type": "input_audio", "input_audio": "UklGRg=="}),
]


@pytest.mark.parametrize(("part", "chunk"), PARTS)
def test_user_content_parts(part: dict[str, Any], chunk: dict[str, Any]) -> None:
    assert messages({"role": "user", "content": [part]})[0]["content"] == [chunk]


def test_cleanups_apply_when_images_are_present_too() -> None:
    out = assert_served([
        {"role": "system", "content": "s", "name": "x"},
        {"role": "user", "name": "bob", "metadata": {"a": 1}, "content": [
            {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": PNG, "detail": "original"}}]},
        {"role": "assistant", "content": "A cat.", "name": "bot", "refusal": None},
        {"role": "user", "content": [{"type": "image_url", "image_url": PNG}]},
    ])
    assert out["messages"][1] == {"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG}}]}


def test_big_strings_are_reused_not_copied() -> None:
    data = "data:image/png;base64," + "A" * 100_000
    out = messages({"role": "user", "content": [{"type": "image_url", "image_url": data}]})
    assert out[0]["content"][0]["image_url"]["url"] is data


@pytest.mark.parametrize("part", [{"type": "video_url", "video_url": "x"},
                                  {"type": "image_url"}, {"type": "input_audio"}, 3])
def test_unusable_parts_are_refused(part: Any) -> None:
    with pytest.raises(BadRequestError, match=r"messages\[0\]\.content\[0\]"):
        messages({"role": "user", "content": [part]})


@pytest.mark.parametrize("role", ["user", "tool"])
def test_null_content_is_sent_as_empty_string(role: str) -> None:
    history = [{"role": "user", "content": "q"}, {"role": role, "content": None}]
    assert body(history)["messages"][1]["content"] == ""


# ---- serving order -------------------------------------------------------------------

TOOL_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]


def test_user_after_tool_results_gets_an_assistant_bridge() -> None:
    out = assert_served([*TOOL_TURN, {"role": "user", "content": "And tomorrow?"}])["messages"]
    assert out[3] == {"role": "assistant", "content": BRIDGE_TEXT}
    assert out[4]["content"] == "And tomorrow?"


def test_no_bridge_when_the_assistant_answered() -> None:
    out = messages(*TOOL_TURN, {"role": "assistant", "content": "Sunny."},
                   {"role": "user", "content": "Thanks"})
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "assistant", "user"]
    assert BRIDGE_TEXT not in [m.get("content") for m in out]


@pytest.mark.parametrize("empty", [
    {"role": "assistant"}, {"role": "assistant", "content": None},
    {"role": "assistant", "content": ""}, {"role": "assistant", "content": []},
    {"role": "assistant", "content": None, "tool_calls": []},
])
def test_empty_assistant_messages_are_dropped(empty: dict[str, Any]) -> None:
    out = assert_served([{"role": "user", "content": "a"}, empty,
                         {"role": "user", "content": "b"}])
    assert [m["role"] for m in out["messages"]] == ["user", "user"]


def test_dropping_an_empty_assistant_after_tool_still_bridges() -> None:
    out = assert_served([*TOOL_TURN, {"role": "assistant", "content": ""},
                         {"role": "user", "content": "next"}])
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "tool",
                                                    "assistant", "user"]


def test_refusal_stands_in_for_missing_content() -> None:
    out = messages({"role": "user", "content": "q"},
                   {"role": "assistant", "content": None, "refusal": "I can't help."},
                   {"role": "user", "content": "ok"})
    assert out[1] == {"role": "assistant", "content": "I can't help."}


def test_trailing_assistant_is_a_prefix_and_only_it() -> None:
    out = assert_served([
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b", "prefix": True},
        {"role": "user", "content": "c"},
        {"role": "assistant", "content": "d"},
    ])["messages"]
    assert "prefix" not in out[1]
    assert out[3] == {"role": "assistant", "content": "d", "prefix": True}


# ---- reasoning in history ------------------------------------------------------------

REASONED: list[dict[str, Any]] = [{"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4", "reasoning_content": "Add them."},
            {"role": "user", "content": "3+3?"}]


def test_reasoning_goes_back_as_a_thinking_chunk_for_native_models() -> None:
    out = assert_served(REASONED, model_info=NATIVE)["messages"]
    assert out[1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Add them."}]},
        {"type": "text", "text": "4"}]}


def test_reasoning_with_list_content_and_tool_calls() -> None:
    history = [{"role": "user", "content": "q"},
               {"role": "assistant", "content": [{"type": "text", "text": "Let me check."}],
                "reasoning_content": "Need the tool.", "tool_calls": [
                    {"id": "abcdefghi", "function": {"name": "f", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "abcdefghi", "content": "r"}]
    out = assert_served(history, model_info=NATIVE)["messages"]
    assert out[1]["content"] == [
        {"type": "thinking", "thinking": [{"type": "text", "text": "Need the tool."}]},
        {"type": "text", "text": "Let me check."}]


@pytest.mark.parametrize("info", [None, PLAIN])
def test_reasoning_is_left_out_for_other_models(info: Any) -> None:
    out = messages(*REASONED, model_info=info)
    assert out[1] == {"role": "assistant", "content": "4"}
