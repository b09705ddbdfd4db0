"""Tools, tool choice, legacy functions, JSON-schema cleaning and tool-call ids."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from gatewise._exceptions import BadRequestError, UnsupportedParamsError
from gatewise.providers.mistral.tools import clean_json_schema, mistral_tool_call_id
from tests.providers.mistral._helpers import body

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
VALID_ID = re.compile(r"[A-Za-z0-9]{9}")


# ---- tool-call ids -------------------------------------------------------------------

@pytest.mark.parametrize("call_id", ["gSIMJiOkT", "D681PevKs", "123456789"])
def test_valid_ids_are_kept(call_id: str) -> None:
    assert mistral_tool_call_id(call_id) == call_id


@pytest.mark.parametrize("call_id", ["call_abc123XYZdef456", "toolu_01A09q90qw90lq917835lq9",
                                     "turn1_0", "abc", "abcdefghij", "abc-12345", "", "ééééééééé"])
def test_other_ids_map_to_nine_alphanumerics_deterministically(call_id: str) -> None:
    mapped = mistral_tool_call_id(call_id)
    assert VALID_ID.fullmatch(mapped)
    assert mistral_tool_call_id(call_id) == mapped


def test_different_ids_map_to_different_ids() -> None:
    ids = {mistral_tool_call_id(f"call_{i}") for i in range(1000)}
    assert len(ids) == 1000


def _history(call_ids: list[str], answer_ids: list[str | None]) -> list[dict[str, Any]]:
    calls = [{"id": c, "type": "function", "function": {"name": "get_weather",
                                                         "arguments": "{}"}} for c in call_ids]
    tool_msgs: list[dict[str, Any]] = []
    for a in answer_ids:
        message: dict[str, Any] = {"role": "tool", "content": "sunny"}
        if a is not None:
            message["tool_call_id"] = a
        tool_msgs.append(message)
    return [{"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": None, "tool_calls": calls}, *tool_msgs]


def test_ids_stay_paired_between_calls_and_results() -> None:
    out = body(_history(["call_A", "toolu_B"], ["toolu_B", "call_A"]))["messages"]
    call_ids = [c["id"] for c in out[1]["tool_calls"]]
    assert all(VALID_ID.fullmatch(i) for i in call_ids)
    assert [m["tool_call_id"] for m in out[2:]] == call_ids[::-1]


def test_missing_tool_call_id_after_a_single_call_is_filled() -> None:
    out = body(_history(["call_A"], [None]))["messages"]
    assert out[2]["tool_call_id"] == out[1]["tool_calls"][0]["id"]


def test_missing_tool_call_id_when_ambiguous_is_left_absent() -> None:
    out = body(_history(["call_A", "call_B"], [None, None]))["messages"]
    assert "tool_call_id" not in out[2]
    assert "tool_call_id" not in out[3]


def test_only_the_first_result_after_a_single_call_is_filled() -> None:
    out = body(_history(["call_A"], [None, None]))["messages"]
    assert "tool_call_id" in out[2]
    assert "tool_call_id" not in out[3]


# ---- tools ---------------------------------------------------------------------------

def test_function_tool_keeps_only_schema_keys() -> None:
    tool = {"type": "function", "cache_control": {"type": "ephemeral"}, "function": {
        "name": "f", "description": "d", "strict": True, "extra": 1,
        "parameters": {"type": "object", "properties": {}}}}
    assert body(tools=[tool])["tools"] == [{"type": "function", "function": {
        "name": "f", "description": "d", "strict": True,
        "parameters": {"type": "object", "properties": {}}}}]


@pytest.mark.parametrize("function", [{"name": "ping"}, {"name": "ping", "parameters": None},
                                      {"name": "ping", "description": None}])
def test_every_function_tool_carries_parameters(function: dict[str, Any]) -> None:
    tool = body(tools=[{"type": "function", "function": function}])["tools"][0]
    assert tool == {"type": "function", "function": {
        "name": "ping", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize("name", ["get weather", "a" * 65, "", "wetter.heute", "名前", None])
def test_bad_function_name_is_refused_naming_the_tool(name: Any) -> None:
    with pytest.raises(BadRequestError) as caught:
        body(tools=[WEATHER, {"type": "function", "function": {"name": name}}])
    assert caught.value.param == "tools[1].function.name"
    assert "tools[1]" in caught.value.message
    assert repr(name) in caught.value.message


def test_bad_legacy_function_name_is_refused() -> None:
    with pytest.raises(BadRequestError, match=r"functions\[0\]"):
        body(functions=[{"name": "no spaces please"}])


def test_builtin_tools_keep_their_schema_keys_only() -> None:
    tools = [{"type": "web_search", "junk": 1},
             {"type": "document_library", "library_ids": ["lib"], "tool_configuration": None}]
    assert body(tools=tools)["tools"] == [{"type": "web_search"},
                                          {"type": "document_library", "library_ids": ["lib"]}]


def test_foreign_tool_types_are_refused() -> None:
    with pytest.raises(BadRequestError, match="custom"):
        body(tools=[{"type": "custom", "custom": {"name": "x"}}])


def test_empty_tools_list_sends_no_tools() -> None:
    out = body(tools=[], tool_choice="auto")
    assert "tools" not in out
    assert "tool_choice" not in out


# ---- tool choice ---------------------------------------------------------------------

@pytest.mark.parametrize(("given", "sent"), [
    ("auto", "auto"), ("none", "none"), ("required", "any"), ("any", "any"),
    ({"type": "function", "function": {"name": "get_weather", "strict": True}, "x": 1},
     {"type": "function", "function": {"name": "get_weather"}}),
])
def test_tool_choice(given: Any, sent: Any) -> None:
    assert body(tools=[WEATHER], tool_choice=given)["tool_choice"] == sent


def test_tool_choice_without_tools_is_dropped() -> None:
    assert "tool_choice" not in body(tool_choice="required")


def test_unrecognised_tool_choice_is_unsupported() -> None:
    choice = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}}
    with pytest.raises(UnsupportedParamsError, match="tool_choice"):
        body(tools=[WEATHER], tool_choice=choice)
    assert "tool_choice" not in body(tools=[WEATHER], tool_choice=choice, drop_params=True)


# ---- legacy functions ----------------------------------------------------------------

@pytest.mark.parametrize(("function_call", "sent"), [
    ("auto", "auto"), ("none", "none"),
    ({"name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
])
def test_legacy_functions_become_tools(function_call: Any, sent: Any) -> None:
    out = body(functions=[WEATHER["function"]], function_call=function_call)
    assert out["tools"] == [WEATHER]
    assert out["tool_choice"] == sent
    assert "functions" not in out
    assert "function_call" not in out


def test_legacy_function_call_history_becomes_tool_calls() -> None:
    out = body([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None,
         "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"role": "function", "name": "get_weather", "content": "sunny"},
    ])["messages"]
    call = out[1]["tool_calls"][0]
    assert VALID_ID.fullmatch(call["id"])
    assert call == {"id": call["id"], "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city": "Paris"}'}}
    assert "function_call" not in out[1]
    assert out[2] == {"role": "tool", "content": "sunny", "tool_call_id": call["id"],
                      "name": "get_weather"}


def test_legacy_history_ids_are_deterministic() -> None:
    history = [{"role": "user", "content": "q"},
               {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
               {"role": "function", "name": "f", "content": "r"}]
    assert body(history) == body(history)


# ---- JSON-schema cleaning ------------------------------------------------------------

def test_meta_keywords_are_removed_at_every_depth() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#", "$id": "urn:x", "$comment": "c",
        "type": "object",
        "properties": {
            "$id": {"type": "string", "$comment": "a property named $id stays"},
            "tags": {"type": "array", "items": {"$id": "t", "type": "string"}},
            "pick": {"anyOf": [{"$schema": "s", "type": "integer"}, {"type": "null"}]},
            "ref": {"$ref": "#/$defs/Thing"},
        },
        "$defs": {"Thing": {"$id": "thing", "type": "object", "additionalProperties": False}},
        "default": {"$schema": "data, not a schema"},
        "enum": [{"$id": "data"}],
    }
    assert clean_json_schema(schema) == {
        "type": "object",
        "properties": {
            "$id": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "pick": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "ref": {"$ref": "#/$defs/Thing"},
        },
        "$defs": {"Thing": {"type": "object", "additionalProperties": False}},
        "default": {"$schema": "data, not a schema"},
        "enum": [{"$id": "data"}],
    }


def test_cleaning_copies_only_what_it_changes() -> None:
    untouched = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert clean_json_schema(untouched) is untouched
    schema = {"type": "object", "properties": {"big": untouched, "b": {"$id": "x"}}}
    before = copy.deepcopy(schema)
    cleaned = clean_json_schema(schema)
    assert schema == before
    assert cleaned["properties"]["big"] is untouched


def test_tool_parameters_are_cleaned() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"x": {"type": "integer", "$comment": "c"}}}}}
    assert body(tools=[tool])["tools"][0]["function"]["parameters"] == {
        "type": "object", "properties": {"x": {"type": "integer"}}}


@pytest.mark.parametrize(("arguments", "sent"), [
    ({"city": "Paris"}, '{"city": "Paris"}'), ('{"a":1}', '{"a":1}'), (None, "{}")])
def test_history_arguments_always_travel_as_strings(arguments: Any, sent: str) -> None:
    history = [{"role": "user", "content": "q"},
               {"role": "assistant", "tool_calls": [
                   {"id": "abcdefghi", "function": {"name": "f", "arguments": arguments}}]},
               {"role": "tool", "tool_call_id": "abcdefghi", "content": "r"}]
    assert body(history)["messages"][1]["tool_calls"][0]["function"]["arguments"] == sent
