"""Moderation: OpenAI's ``input`` -> Mistral's ``/v1/moderations`` or ``/v1/chat/moderations``
body (checked against the official schemas), and Mistral's answer -> OpenAI's, dicts only."""

from __future__ import annotations

from typing import Any

import pytest

from gatewise._exceptions import BadRequestError, UnsupportedParamsError
from gatewise.providers.mistral import moderation_request, parse_moderation_response
from tests.fake_mistral import validate_body

MODEL = "mistral-moderation-latest"
SCHEMAS = {"/moderations": "ClassificationRequest", "/chat/moderations": "ChatModerationRequest"}


def request(input: Any, **params: Any) -> tuple[str, dict[str, Any]]:
    drop = params.pop("drop_params", False)
    path, body = moderation_request(MODEL, input, params, drop_params=drop)
    assert validate_body(SCHEMAS[path], body) == []
    return path, body


def test_text_goes_to_moderations() -> None:
    assert request("hello") == ("/moderations", {"model": MODEL, "input": "hello"})
    assert request(["a", "b"], metadata={"team": "x"}) == (
        "/moderations", {"model": MODEL, "input": ["a", "b"], "metadata": {"team": "x"}})


def test_openai_text_parts_are_one_text() -> None:
    parts = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    assert request(parts)[1]["input"] == "first\nsecond"


def test_a_conversation_goes_to_chat_moderations_as_it_was() -> None:
    conversation = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hi", "name": "bob"},  # `name` is not Mistral's
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc", "type": "function",
             "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "and?"}]},
        {"role": "assistant", "content": "the answer"},
    ]
    path, body = request(conversation)
    assert path == "/chat/moderations"
    roles = [m["role"] for m in body["input"]]
    # As sent: no bridge turn after the tool, no `prefix` on the last answer.
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant"]
    assert body["input"][-1] == {"role": "assistant", "content": "the answer"}
    assert "name" not in body["input"][1]


def test_a_list_of_conversations_gives_one_result_each() -> None:
    path, body = request([[{"role": "user", "content": "a"}],
                          [{"role": "user", "content": "b"},
                           {"role": "assistant", "content": "c"}]])
    assert path == "/chat/moderations" and len(body["input"]) == 2


@pytest.mark.parametrize(("input", "param"), [
    ([], "input"), (None, "input"), (3, "input"), ({"role": "user"}, "input"),
    (["a", {"role": "user", "content": "b"}], "input"),
    ([[{"role": "user", "content": "a"}], []], "input[1]"),
    ([[{"role": "user", "content": "a"}], ["text"]], "input[1]"),
    ([{"role": "bot", "content": "a"}], "input[0].role"),
    ([[{"role": "user", "content": "a"}], [{"role": "user", "content": 3}]],
     "input[1][0].content"),
    ([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}],
     "input[1]"),
    ([{"type": "text", "text": 3}], "input[0].text"),
])
def test_bad_input_is_refused_naming_where(input: Any, param: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        moderation_request(MODEL, input, {})
    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}: ")


def test_what_moderation_cannot_honour_is_refused_or_dropped() -> None:
    conversation = [{"role": "user", "content": "a"}]
    for input, params in (("a", {"temperature": 0}), (conversation, {"metadata": {}})):
        with pytest.raises(UnsupportedParamsError) as caught:
            moderation_request(MODEL, input, params)
        assert caught.value.param == next(iter(params))
        assert set(request(input, drop_params=True, **params)[1]) == {"model", "input"}
    assert request("a", user="u", extra_headers={})[1] == {"model": MODEL, "input": "a"}


def test_the_answer_gains_flagged() -> None:
    answer = {"id": "4d71", "model": MODEL, "results": [
        {"categories": {"sexual": False, "pii": True}, "category_scores": {"sexual": 0.01,
                                                                          "pii": 0.97}},
        {"categories": {"sexual": False, "pii": False}, "category_scores": {"sexual": 0,
                                                                           "pii": 0.1}},
    ]}
    assert parse_moderation_response(answer, model="x") == {"id": "4d71", "model": MODEL,
                                                            "results": [
        {"flagged": True, "categories": {"sexual": False, "pii": True},
         "category_scores": {"sexual": 0.01, "pii": 0.97}},
        {"flagged": False, "categories": {"sexual": False, "pii": False},
         "category_scores": {"sexual": 0.0, "pii": 0.1}}]}


def test_an_odd_answer_is_read_safely() -> None:
    parsed = parse_moderation_response({"results": [None, {"categories": {"a": "yes"},
                                                           "category_scores": {"a": True}}],
                                        "usage": {"prompt_tokens": 9}}, model=MODEL)
    assert parsed["model"] == MODEL and parsed["id"] == ""
    assert parsed["results"][1] == {"flagged": False, "categories": {"a": False},
                                    "category_scores": {}}
    assert parsed["usage"] == {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}
