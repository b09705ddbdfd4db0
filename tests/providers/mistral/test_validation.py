"""Bad values are refused where they are read, with the exact path of the field.

Each case below was once an unhandled ``TypeError``/``AttributeError``/``RecursionError``,
a body Mistral's schema refuses, or a body JSON cannot carry.  The property test at the
end mutates one or two fields of a request that uses every feature, so each field's check
is exercised (the fuzz test's random requests rarely get that deep).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewise import APIStatusError, BadRequestError
from gatewise._prepare import encode_body
from gatewise.providers.mistral import build_chat_body, build_embedding_body
from tests.fake_mistral import validate_body
from tests.providers.mistral._helpers import INSTRUCTED, MODEL, NATIVE, PLAIN
from tests.providers.mistral.test_fuzz import json_values

UUID = "3b2f1c1e-8f1a-4c5e-9a59-6b1f7b0e8a11"
PNG = "data:image/png;base64,iVBORw0KGgo="
Q = {"role": "user", "content": "q"}


def user(*parts: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": list(parts)}]


def assistant(**fields: Any) -> list[dict[str, Any]]:
    return [Q, {"role": "assistant", **fields}]


def call(function: Any, **fields: Any) -> dict[str, Any]:
    return {"id": "abcdefghi", "type": "function", "function": function, **fields}


def deep_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def tool(**function: Any) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", **function}}]


CHAT_CASES: list[tuple[list[Any], dict[str, Any], str]] = [
    # messages
    ([], {}, "messages"),
    ([{"role": "assistant", "content": ""}], {}, "messages"),
    (["hi"], {}, "messages[0]"),
    ([{"content": "x"}], {}, "messages[0].role"),
    ([{"role": ["user"], "content": "x"}], {}, "messages[0].role"),
    ([{"role": "user", "content": 3}], {}, "messages[0].content"),
    ([{"role": "system", "content": {"text": "x"}}], {}, "messages[0].content"),
    ([{"role": "system", "content": [{"type": "text", "text": 3}]}], {},
     "messages[0].content[0].text"),
    ([Q, {"role": "tool", "tool_call_id": 3, "content": "r"}], {}, "messages[1].tool_call_id"),
    ([Q, {"role": "tool", "tool_call_id": "abcdefghi", "name": 3, "content": "r"}], {},
     "messages[1].name"),
    ([Q, {"role": "function", "name": ["f"], "content": "r"}], {}, "messages[1].name"),
    (assistant(content="a", prefix="yes"), {}, "messages[1].prefix"),
    (assistant(content="a", reasoning_content=["r"]), {}, "messages[1].reasoning_content"),
    (assistant(content=None, refusal=3), {}, "messages[1].refusal"),
    (assistant(tool_calls="f()"), {}, "messages[1].tool_calls"),
    (assistant(tool_calls=["f"]), {}, "messages[1].tool_calls[0]"),
    (assistant(tool_calls=[call({"name": "f"}, type=["function"])]), {},
     "messages[1].tool_calls[0].type"),
    (assistant(tool_calls=[call("f")]), {}, "messages[1].tool_calls[0].function"),
    (assistant(tool_calls=[call({"name": "no spaces"})]), {},
     "messages[1].tool_calls[0].function.name"),
    (assistant(tool_calls=[call({"name": "f"}, id=7)]), {}, "messages[1].tool_calls[0].id"),
    (assistant(tool_calls=[call({"name": "f", "arguments": [1]})]), {},
     "messages[1].tool_calls[0].function.arguments"),
    (assistant(tool_calls=[call({"name": "f", "arguments": {"x": math.nan}})]), {},
     "messages[1].tool_calls[0].function.arguments"),
    (assistant(function_call="f"), {}, "messages[1].function_call"),
    (assistant(function_call={"name": 3}), {}, "messages[1].function_call.name"),
    # content parts
    (user({"type": ["text"]}), {}, "messages[0].content[0].type"),
    (user({"type": "text", "text": None}), {}, "messages[0].content[0].text"),
    (user({"type": "refusal", "refusal": 1}), {}, "messages[0].content[0].refusal"),
    (user({"type": "image_url", "image_url": 3}), {}, "messages[0].content[0].image_url"),
    (user({"type": "image_url", "image_url": {"url": 3}}), {},
     "messages[0].content[0].image_url.url"),
    (user({"type": "image_url", "image_url": {"url": PNG, "detail": ["low"]}}), {},
     "messages[0].content[0].image_url.detail"),
    (user({"type": "file", "file": {"file_id": "file-abc123"}}), {},
     "messages[0].content[0].file.file_id"),
    (user({"type": "file", "file_id": "file-abc123"}), {}, "messages[0].content[0].file_id"),
    (user({"type": "file", "file": {"file_data": 3}}), {},
     "messages[0].content[0].file.file_data"),
    (user({"type": "file", "file": {"file_data": "JVBE", "filename": 3}}), {},
     "messages[0].content[0].file.filename"),
    (user({"type": "document_url", "document_url": "https://x.test", "document_name": 1}),
     {}, "messages[0].content[0].document_name"),
    (user({"type": "input_audio", "input_audio": {"data": None}}), {},
     "messages[0].content[0].input_audio.data"),
    (user({"type": "thinking", "thinking": [{"type": "text", "text": 1}]}), {},
     "messages[0].content[0].thinking[0].text"),
    (user({"type": "thinking", "thinking": ["t"]}), {}, "messages[0].content[0].thinking[0]"),
    (user({"type": "thinking", "thinking": "t", "closed": "yes"}), {},
     "messages[0].content[0].closed"),
    (user({"type": "reference", "reference_ids": [True]}), {},
     "messages[0].content[0].reference_ids[0]"),
    (user({"type": "reference", "reference_ids": [2**70]}), {},
     "messages[0].content[0].reference_ids[0]"),
    # parameters
    ([Q], {"service_tier": []}, "service_tier"),
    ([Q], {"temperature": math.nan}, "temperature"),
    ([Q], {"top_p": math.inf}, "top_p"),
    ([Q], {"max_tokens": 2**64}, "max_tokens"),
    ([Q], {"thinking": [1]}, "thinking"),
    ([Q], {"thinking": {"type": []}}, "thinking.type"),
    ([Q], {"prediction": {"content": [{"type": "text", "text": 3}]}}, "prediction.content[0]"),
    ([Q], {"response_format": {"type": ["json_object"]}}, "response_format.type"),
    ([Q], {"response_format": {"type": "json_schema", "json_schema": {
        "name": 3, "schema": {}}}}, "response_format.json_schema.name"),
    ([Q], {"response_format": {"type": "json_schema", "json_schema": {
        "schema": deep_schema(2000)}}}, "response_format.json_schema.schema"),
    ([Q], {"guardrails": [{"block_on_error": "no"}]}, "guardrails[0].block_on_error"),
    ([Q], {"guardrails": [{"moderation_llm_v1": {"action": ["block"]}}]},
     "guardrails[0].moderation_llm_v1.action"),
    ([Q], {"guardrails": [{"moderation_llm_v2": {"custom_category_thresholds": {
        "pii": math.nan}}}]}, "guardrails[0].moderation_llm_v2.custom_category_thresholds.pii"),
    # tools
    ([Q], {"tools": [{"type": {}}]}, "tools[0].type"),
    ([Q], {"tools": tool(parameters="{}")}, "tools[0].function.parameters"),
    ([Q], {"tools": tool(parameters=deep_schema(2000))}, "tools[0].function.parameters"),
    ([Q], {"tools": tool(description=1)}, "tools[0].function.description"),
    ([Q], {"tools": tool(strict="yes")}, "tools[0].function.strict"),
    ([Q], {"functions": [{"name": "f", "parameters": []}]}, "functions[0].parameters"),
    ([Q], {"tools": [{"type": "document_library", "library_ids": []}]}, "tools[0].library_ids"),
    ([Q], {"tools": [{"type": "connector"}]}, "tools[0].connector_id"),
    ([Q], {"tools": [{"type": "connector", "connector_id": "c",
                      "authorization": {"value": "k"}}]}, "tools[0].authorization"),
    ([Q], {"tools": [{"type": "web_search", "tool_configuration": {"exclude": [1]}}]},
     "tools[0].tool_configuration.exclude"),
    ([Q], {"tools": [{"type": "web_search", "tool_configuration": {"x": []}}]},
     "tools[0].tool_configuration.x"),
]


@pytest.mark.parametrize(("messages", "params", "param"), CHAT_CASES)
def test_bad_chat_values_are_refused_naming_the_exact_field(
        messages: list[Any], params: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        build_chat_body(MODEL, messages, params, model_info=NATIVE)
    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}: ")
    assert caught.value.status_code == 400
    assert caught.value.model == MODEL


@pytest.mark.parametrize(("inputs", "params", "param"), [
    ([], {}, "input"),
    (["a", 3], {}, "input[1]"),
    ({"text": "a"}, {}, "input"),
    ("a", {"encoding_format": ["float"]}, "encoding_format"),
    ("a", {"output_dtype": "int4"}, "output_dtype"),
    ("a", {"dimensions": 0}, "dimensions"),
    ("a", {"metadata": "m"}, "metadata"),
    ("a", {"extra_body": "x"}, "extra_body"),
])
def test_bad_embedding_values_are_refused_naming_the_field(
        inputs: Any, params: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        build_embedding_body("mistral-embed", inputs, params)
    assert caught.value.param == param


@pytest.mark.parametrize(("messages", "params", "param"), [
    ([{"role": "user", "content": "a\udc00"}], {}, "messages[0].content"),
    ([Q], {"metadata": {"big": 2**64}}, "metadata.big"),
    ([Q], {"metadata": {"nested": [{"small": -(2**63) - 1}]}}, "metadata.nested[0].small"),
    ([Q], {"metadata": {1: "x"}}, "metadata"),
    ([Q], {"tools": tool(parameters={"type": "object", "default": {"\ud800": 1}})},
     "tools[0].function.parameters.default"),
])
def test_values_json_cannot_carry_are_refused_when_encoding(
        messages: list[Any], params: dict[str, Any], param: str) -> None:
    body = build_chat_body(MODEL, messages, params)
    with pytest.raises(BadRequestError) as caught:
        encode_body(body)
    assert caught.value.param == param
    assert "cannot be sent as JSON" in caught.value.message


def test_nesting_beyond_the_encoder_limit_is_refused_when_encoding() -> None:
    body = build_chat_body(MODEL, [Q], {"metadata": {"deep": deep_schema(200)}})
    with pytest.raises(BadRequestError, match="nested too deeply") as caught:
        encode_body(body)
    assert caught.value.param is not None
    assert caught.value.param.startswith("metadata.deep.properties.a.")


def test_lone_surrogates_do_not_break_tool_call_ids() -> None:
    history = [Q, {"role": "assistant", "tool_calls": [call({"name": "f"}, id="c\ud800")]},
               {"role": "tool", "tool_call_id": "c\ud800", "content": "r"}]
    out = build_chat_body(MODEL, history, {})["messages"]
    assert out[1]["tool_calls"][0]["id"] == out[2]["tool_call_id"]
    encode_body({"messages": out})


# ---- every field, one at a time ------------------------------------------------------

FULL: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "s"}, "t"]},
        {"role": "developer", "content": "d"},
        {"role": "user", "name": "bob", "content": [
            {"type": "text", "text": "a"}, "bare",
            {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
            {"type": "image_url", "image_url": PNG},
            {"type": "file", "file": {"file_data": "JVBE", "filename": "a.pdf"}},
            {"type": "file", "file": {"file_id": UUID}},
            {"type": "file", "file_id": UUID},
            {"type": "document_url", "document_url": "https://x.test", "document_name": "n"},
            {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
            {"type": "input_audio", "input_audio": "UklG"},
            {"type": "thinking", "thinking": [{"type": "text", "text": "hm"}],
             "signature": "s", "closed": True},
            {"type": "reference", "reference_ids": [1, "a"]}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}],
         "reasoning_content": "r", "refusal": "x", "prefix": False, "tool_calls": [
             call({"name": "f", "arguments": {"a": [1, 2.5]}}, id="call_1"),
             call({"name": "g", "arguments": "{}"})]},
        {"role": "tool", "tool_call_id": "call_1", "name": "f",
         "content": [{"type": "text", "text": "r"}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "content": "r2"},
        {"role": "assistant", "content": None,
         "function_call": {"name": "h", "arguments": "{}"}},
        {"role": "function", "name": "h", "content": "x"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "partial", "prefix": True},
    ],
    "params": {
        "temperature": 0.5, "top_p": 0.9, "max_tokens": 10, "max_completion_tokens": 20,
        "stop": ["a"], "n": 1, "seed": 3, "random_seed": 4, "presence_penalty": 0.1,
        "frequency_penalty": 0.1, "parallel_tool_calls": True, "safe_prompt": False,
        "stream": True, "metadata": {"k": "v"}, "prompt_cache_key": "k",
        "prompt_mode": "reasoning",
        "guardrails": [{"block_on_error": True, "moderation_llm_v1": {
            "model_name": "m", "custom_category_thresholds": {"pii": 0.5}, "action": "block",
            "ignore_other_categories": False}, "moderation_llm_v2": None}],
        "tools": [
            {"type": "function", "function": {
                "name": "f", "description": "d", "strict": True, "parameters": {
                    "$schema": "x", "type": "object", "properties": {"a": {"type": "string"}}}}},
            {"type": "web_search", "tool_configuration": {"exclude": ["a"]}},
            {"type": "document_library", "library_ids": ["l"]},
            {"type": "connector", "connector_id": "c",
             "authorization": {"type": "api-key", "value": "v"}}],
        "functions": [{"name": "g", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "n", "schema": {"type": "object"}, "strict": True, "description": "d"}},
        "prediction": {"type": "content", "content": [{"type": "text", "text": "p"}]},
        "service_tier": "auto", "reasoning_effort": "high", "user": "u",
    },
}


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    places = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            places += _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places += _places(item, (*path, index))
    return places


PLACES = [place for place in _places(FULL) if len(place) >= 2]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """``FULL`` with one or two fields replaced by random JSON-ish values, or removed."""
    request = copy.deepcopy(FULL)
    for _ in range(draw(st.integers(1, 2))):
        *parents, last = draw(st.sampled_from(PLACES))
        parent: Any = request
        try:
            for key in parents:
                parent = parent[key]
            if draw(st.booleans()):
                parent[last] = draw(json_values)
            else:
                del parent[last]
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change took this place away
    return request


@pytest.mark.parametrize("info", [NATIVE, INSTRUCTED, PLAIN])
def test_the_full_request_is_served(info: Any) -> None:
    body = build_chat_body(MODEL, FULL["messages"], FULL["params"], model_info=info)
    assert validate_body("ChatCompletionRequest", body) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=mutated(), info=st.sampled_from([NATIVE, INSTRUCTED, PLAIN]),
       drop=st.booleans())
def test_any_field_gone_wrong_is_translated_or_refused_by_name(
        request: dict[str, Any], info: Any, drop: bool) -> None:
    try:
        body = build_chat_body(MODEL, request["messages"], request["params"],
                               drop_params=drop, model_info=info)
        encoded = encode_body(body)
    except APIStatusError as caught:
        error = caught
    else:
        assert validate_body("ChatCompletionRequest", body) == [], body
        assert orjson.loads(encoded)["messages"]
        return
    assert error.status_code == 400, error
    assert error.param, error
