"""Top-level request parameters: passed, renamed, dropped as noise, or refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gatewise._exceptions import BadRequestError, UnsupportedParamsError
from gatewise.providers.mistral.params import BODY_FIELDS
from tests.providers.mistral._helpers import MODEL, NATIVE, USER, body, nulls


def test_model_and_messages_always_and_nothing_else_by_default() -> None:
    assert body() == {"model": MODEL, "messages": USER}


@pytest.mark.parametrize(("stream", "expected"), [(True, {"stream": True}), (False, {}),
                                                  (None, {})])
def test_stream_sent_only_when_streaming(stream: Any, expected: dict[str, Any]) -> None:
    out = body(stream=stream)
    assert {k: v for k, v in out.items() if k == "stream"} == expected


@pytest.mark.parametrize(("name", "value"), [
    ("temperature", 0.3),
    ("top_p", 0.9),
    ("max_tokens", 100),
    ("stop", ["\n\n", "END"]),
    ("stop", "END"),
    ("n", 2),
    ("presence_penalty", 0.5),
    ("frequency_penalty", -0.5),
    ("parallel_tool_calls", False),
    ("metadata", {"team": "search"}),
    ("safe_prompt", True),
    ("random_seed", 7),
    ("prompt_mode", "reasoning"),
    ("guardrails", [{"block_on_error": True}]),
    ("prompt_cache_key", "user-42"),
])
def test_passthrough(name: str, value: Any) -> None:
    assert body(**{name: value})[name] == value


@pytest.mark.parametrize(("params", "expected"), [
    ({"max_completion_tokens": 50}, {"max_tokens": 50}),
    ({"max_completion_tokens": 50, "max_tokens": 80}, {"max_tokens": 50}),
    ({"seed": 3}, {"random_seed": 3}),
    ({"seed": 3, "random_seed": 4}, {"random_seed": 4}),
])
def test_renamed(params: dict[str, Any], expected: dict[str, Any]) -> None:
    out = body(**params)
    assert {k: out[k] for k in expected} == expected
    assert "max_completion_tokens" not in out
    assert "seed" not in out


def test_none_means_unset_and_no_nulls_are_sent() -> None:
    out = body(temperature=None, top_p=None, tools=None, tool_choice=None, stop=None,
               response_format=None, seed=None, logit_bias=None, temprature=None,
               reasoning_effort=None, service_tier=None, extra_body=None)
    assert out == {"model": MODEL, "messages": USER}
    assert nulls(out) == []


@pytest.mark.parametrize("name", ["user", "store", "stream_options", "extra_headers",
                                  "safety_identifier"])
def test_client_noise_never_reaches_the_wire(name: str) -> None:
    value: Any = {"include_usage": True} if name == "stream_options" else "x"
    assert name not in body(**{name: value})


@pytest.mark.parametrize(("tier", "sent"), [("auto", True), ("standard_only", True),
                                            ("default", False), ("flex", False),
                                            ("priority", False)])
def test_service_tier(tier: str, sent: bool) -> None:
    assert ("service_tier" in body(service_tier=tier)) is sent


def test_unknown_service_tier_is_unsupported() -> None:
    with pytest.raises(UnsupportedParamsError, match="service_tier"):
        body(service_tier="turbo")


UNSUPPORTED: list[tuple[str, Any]] = [
    ("logit_bias", {"50256": -100}),
    ("logprobs", True),
    ("top_logprobs", 3),
    ("modalities", ["text", "audio"]),
    ("audio", {"voice": "alloy", "format": "wav"}),
    ("web_search_options", {}),
    ("temprature", 0.2),
    ("top_k", 40),
]


@pytest.mark.parametrize(("name", "value"), UNSUPPORTED)
def test_unsupported_param_raises_naming_it(name: str, value: Any) -> None:
    with pytest.raises(UnsupportedParamsError) as caught:
        body(**{name: value})
    assert name in str(caught.value)
    assert "drop_params=True" in str(caught.value)
    assert caught.value.provider == "mistral"


def test_every_unsupported_param_is_named_at_once() -> None:
    with pytest.raises(UnsupportedParamsError) as caught:
        body(**dict(UNSUPPORTED))
    for name, _ in UNSUPPORTED:
        assert name in caught.value.message


def test_typo_gets_a_suggestion() -> None:
    with pytest.raises(UnsupportedParamsError, match="did you mean 'temperature'"):
        body(temprature=0.2)


def test_drop_params_drops_them() -> None:
    out = body(drop_params=True, temperature=0.1, **dict(UNSUPPORTED))
    assert out == {"model": MODEL, "messages": USER, "temperature": 0.1}


@pytest.mark.parametrize(("name", "value"), [("logprobs", False), ("top_logprobs", 0),
                                             ("logit_bias", {}), ("modalities", ["text"])])
def test_values_asking_for_nothing_are_dropped_silently(name: str, value: Any) -> None:
    assert name not in body(**{name: value})


@pytest.mark.parametrize(("given", "expected"), [
    ({"type": "text"}, {"type": "text"}),
    ({"type": "json_object"}, {"type": "json_object"}),
    ({"type": "json_schema", "json_schema": {
        "name": "book", "description": "A book", "strict": True, "schema_name": "x",
        "schema": {"type": "object", "properties": {"t": {"type": "string"}}}}},
     {"type": "json_schema", "json_schema": {
         "name": "book", "description": "A book", "strict": True,
         "schema": {"type": "object", "properties": {"t": {"type": "string"}}}}}),
    ({"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
     {"type": "json_schema", "json_schema": {"name": "response",
                                             "schema": {"type": "object"}}}),
    ({"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"$schema": "http://json-schema.org/draft-07/schema#",
                                "type": "object"}}},
     {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}),
])
def test_response_format(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert body(response_format=given)["response_format"] == expected


@pytest.mark.parametrize("given", [
    {"type": "json_schema"},
    {"type": "json_schema", "json_schema": {"name": "x"}},
    {"type": "xml"},
    "json",
])
def test_bad_response_format(given: Any) -> None:
    with pytest.raises(BadRequestError, match="response_format"):
        body(response_format=given)


@pytest.mark.parametrize(("given", "content"), [
    ({"type": "content", "content": "def f():"}, "def f():"),
    ({"type": "content", "content": [{"type": "text", "text": "a"},
                                     {"type": "text", "text": "b"}]}, "ab"),
])
def test_prediction(given: dict[str, Any], content: str) -> None:
    assert body(prediction=given)["prediction"] == {"type": "content", "content": content}


def test_bad_prediction() -> None:
    with pytest.raises(BadRequestError, match="prediction"):
        body(prediction={"type": "content", "content": 3})


def test_extra_body_adds_new_fields_verbatim() -> None:
    out = body(temperature=0.1, extra_body={"custom": {"a": None}, "other": 1})
    assert out["temperature"] == 0.1
    assert out["custom"] == {"a": None}
    assert out["other"] == 1


@pytest.mark.parametrize("extra", [
    {"model": "magistral-medium-latest"},
    {"messages": [{"role": "user", "content": "something else"}]},
    {"stream": True},
    {"max_tokens": 100000},
    *({name: 1} for name in sorted(BODY_FIELDS)),
])
def test_extra_body_cannot_replace_a_field_gatewise_writes(extra: dict[str, Any]) -> None:
    with pytest.raises(BadRequestError) as info:
        body(extra_body={**extra, "custom": 1})
    (name,) = extra
    assert info.value.param == f"extra_body.{name}"
    assert name in info.value.message


def test_extra_body_clashes_are_all_named() -> None:
    with pytest.raises(BadRequestError) as info:
        body(extra_body={"random_seed": 1, "model": "x", "tools": [], "custom": 1})
    assert info.value.param == "extra_body.model, extra_body.random_seed, extra_body.tools"
    assert "model, random_seed, tools" in info.value.message


def test_body_fields_holds_every_field_the_adapter_writes() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    out = body(temperature=0.3, top_p=0.9, max_completion_tokens=5, stop="x", n=1, seed=3,
               presence_penalty=0.1, frequency_penalty=0.1, parallel_tool_calls=True,
               metadata={}, safe_prompt=True, prompt_mode="reasoning", guardrails=[],
               prompt_cache_key="k", tools=tools, tool_choice="auto", stream=True,
               response_format={"type": "text"}, service_tier="auto",
               prediction={"type": "content", "content": "x"}, reasoning_effort="high",
               model_info=NATIVE)
    assert set(out) == BODY_FIELDS


def test_extra_body_must_be_a_dict() -> None:
    with pytest.raises(BadRequestError, match="extra_body"):
        body(extra_body=[1])


def test_the_callers_params_and_messages_are_not_mutated() -> None:
    messages = [{"role": "developer", "content": [{"type": "text", "text": "x"}]},
                {"role": "user", "content": "q", "name": "bob"},
                {"role": "assistant", "content": "a", "prefix": False}]
    params: dict[str, Any] = {
        "tools": [{"type": "function", "function": {
            "name": "f", "parameters": {"$schema": "s", "type": "object"}}}],
        "tool_choice": "required", "response_format": {"type": "json_object"},
        "stream": True, "stream_options": {"include_usage": True}, "user": "u"}
    before = copy.deepcopy((messages, params))
    body(messages, **params)
    assert (messages, params) == before
