"""The fake Mistral server is as strict as the real one and answers in the real shapes."""

from __future__ import annotations

import base64
import json
import re
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fake_mistral import (
    MODELS,
    BadEvent,
    CutStream,
    Delay,
    FakeMistral,
    Garbage,
    Normal,
    StallStream,
    Status,
    semantic_error,
    validate_body,
)
from tests.fake_mistral.extract_schema import ROOTS, reachable
from tests.fake_mistral.validator import schemas

MODEL = "mistral-small-latest"
HELLO = [{"role": "user", "content": "Hi"}]
DEFAULT_TEXT = "Hello from the fake Mistral server."
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["location"],
        },
    },
}
RENAMED_OK = {**WEATHER, "function": {**WEATHER["function"], "name": "other_tool"}}
CALL = {"id": "abcDEF123", "function": {"name": "get_weather", "arguments": "{}"}}
THINK_PROMPT = "When solving problems, think step-by-step in <think> tags first."


@pytest.fixture
def client(fake_mistral: FakeMistral) -> Iterator[httpx.Client]:
    headers = {"Authorization": "Bearer test-key"}
    with httpx.Client(base_url=fake_mistral.base_url, headers=headers, timeout=5) as client:
        yield client


def chat(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/chat/completions", json={"model": MODEL, "messages": HELLO, **fields})


def embed(client: httpx.Client, **fields: Any) -> httpx.Response:
    return client.post("/embeddings", json={"model": "mistral-embed", **fields})


def sse_data(response: httpx.Response) -> list[str]:
    assert response.text.endswith("\n\n")
    events = response.text.split("\n\n")[:-1]
    assert all(event.startswith("data: ") for event in events)
    return [event.removeprefix("data: ") for event in events]


def stream_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    data = sse_data(response)
    assert data[-1] == "[DONE]"
    return [json.loads(item) for item in data[:-1]]


def error(message: str, kind: str = "invalid_request_error", code: str | None = None) -> dict:
    return {
        "object": "error",
        "message": message,
        "type": kind,
        "param": None,
        "code": code,
        "raw_status_code": 400,
    }


# -- a plain answer ------------------------------------------------------------------------


def test_minimal_chat_answers_in_the_live_shape(client: httpx.Client) -> None:
    response = chat(client)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["id", "created", "model", "usage", "object", "choices"]
    assert re.fullmatch(r"[0-9a-f]{32}", body["id"])
    assert abs(body["created"] - time.time()) < 60
    assert body["model"] == MODEL
    assert body["object"] == "chat.completion"
    usage = body["usage"]
    assert list(usage) == [
        "prompt_tokens",
        "total_tokens",
        "completion_tokens",
        "prompt_tokens_details",
        "service_tier",
    ]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert usage["service_tier"] == "standard"
    assert body["choices"] == [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "tool_calls": None, "content": DEFAULT_TEXT},
        }
    ]


def test_requests_are_recorded_and_reset(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    chat(client, temperature=0.2)
    client.get("/models")
    first, second = fake_mistral.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.json["temperature"] == 0.2
    assert json.loads(first.raw) == first.json
    assert first.headers["authorization"] == "Bearer test-key"
    assert (second.method, second.json) == ("GET", None)
    fake_mistral.reset()
    assert fake_mistral.requests == []


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-key"}]
)
def test_bad_or_missing_key_is_401(fake_mistral: FakeMistral, headers: dict[str, str]) -> None:
    body = {"model": MODEL, "messages": HELLO}
    response = httpx.post(f"{fake_mistral.base_url}/chat/completions", json=body, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_api_keys_are_configurable(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.api_keys = {"other"}
    assert chat(client).status_code == 401


# -- 422: the schema ----------------------------------------------------------------------


def test_extra_fields_are_422_with_the_discriminator_tag_in_loc(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": "Hi", "name": "bob"}]
    response = chat(client, messages=messages, max_completion_tokens=5)
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "extra_forbidden",
                "loc": ["body", "messages", 0, "user", "name"],
                "msg": "Extra inputs are not permitted",
                "input": "bob",
            },
            {
                "type": "extra_forbidden",
                "loc": ["body", "max_completion_tokens"],
                "msg": "Extra inputs are not permitted",
                "input": 5,
            },
        ]
    }


def test_bounds_are_422_with_ctx(client: httpx.Client) -> None:
    detail = chat(client, temperature=2, top_p=0).json()["detail"]
    assert detail == [
        {
            "type": "less_than_equal",
            "loc": ["body", "temperature"],
            "msg": "Input should be less than or equal to 1.5",
            "input": 2,
            "ctx": {"le": 1.5},
        },
        {
            "type": "greater_than",
            "loc": ["body", "top_p"],
            "msg": "Input should be greater than 0",
            "input": 0,
            "ctx": {"gt": 0},
        },
    ]


def test_malformed_and_empty_json_are_422(client: httpx.Client) -> None:
    response = client.post("/chat/completions", content=b"{oops")
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert (item["type"], item["loc"], item["msg"]) == (
        "json_invalid",
        ["body", 1],
        "JSON decode error",
    )
    empty = client.post("/chat/completions", content=b"").json()["detail"]
    assert empty == [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]


def one_error(body: dict[str, Any]) -> dict[str, Any]:
    [item] = validate_body("ChatCompletionRequest", {"model": MODEL, "messages": HELLO, **body})
    return item


def test_missing_field_reports_the_whole_object() -> None:
    body = {"messages": HELLO}
    item = {"type": "missing", "loc": ["body", "model"], "msg": "Field required", "input": body}
    assert validate_body("ChatCompletionRequest", body) == [item]


@pytest.mark.parametrize(
    ("field", "value", "kind", "msg"),
    [
        ("max_tokens", True, "int_type", "Input should be a valid integer"),
        ("max_tokens", 1.5, "int_from_float", "Input should be a valid integer, got a number"),
        ("max_tokens", "5", "int_parsing", "Input should be a valid integer, unable to parse"),
        ("temperature", True, "float_type", "Input should be a valid number"),
        ("temperature", "0.5", "float_parsing", "Input should be a valid number, unable"),
        ("stream", "yes", "bool_parsing", "Input should be a valid boolean, unable"),
        ("stream", None, "bool_type", "Input should be a valid boolean"),
        ("prompt_cache_key", 5, "string_type", "Input should be a valid string"),
        ("metadata", [], "dict_type", "Input should be a valid dictionary"),
        ("messages", {}, "list_type", "Input should be a valid list"),
        ("random_seed", -1, "greater_than_equal", "Input should be greater than or equal to 0"),
        ("frequency_penalty", -3, "greater_than_equal", "Input should be greater than or equal"),
        ("reasoning_effort", "max", "enum", "Input should be 'none', 'minimal', 'low', 'medium',"),
        ("prompt_mode", "thinking", "enum", "Input should be 'reasoning'"),
        ("response_format", "json", "model_type", "Input should be a valid dictionary or instance"),
    ],
)
def test_type_errors_read_like_pydantic(field: str, value: Any, kind: str, msg: str) -> None:
    item = one_error({field: value})
    assert (item["type"], item["loc"], item["input"]) == (kind, ["body", field], value)
    assert item["msg"].startswith(msg)


def test_lax_numbers_are_accepted() -> None:
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 5.0, "temperature": 1, "stop": None}
    assert validate_body("ChatCompletionRequest", body) == []


def test_message_unions_report_like_pydantic() -> None:
    messages = [{"role": "bot", "content": "x"}, {"content": "x"}, 5]
    errors = validate_body("ChatCompletionRequest", {"model": MODEL, "messages": messages})
    tags = "'system', 'user', 'assistant', 'tool'"
    assert errors[0] == {
        "type": "union_tag_invalid",
        "loc": ["body", "messages", 0],
        "msg": "Input tag 'bot' found using 'role' does not match any of the expected tags: "
        + tags,
        "input": {"role": "bot", "content": "x"},
        "ctx": {"discriminator": "'role'", "tag": "bot", "expected_tags": tags},
    }
    assert errors[1] == {
        "type": "union_tag_not_found",
        "loc": ["body", "messages", 1],
        "msg": "Unable to extract tag using discriminator 'role'",
        "input": {"content": "x"},
        "ctx": {"discriminator": "'role'"},
    }
    assert errors[2]["type"] == "model_attributes_type"


def test_nested_errors_carry_every_tag_and_union_label() -> None:
    call = {"id": "abcDEF123", "name": "f", "function": {"name": "f"}}
    content = [{"type": "text", "text": 5}]
    messages = [{"role": "user", "content": content}, {"role": "assistant", "tool_calls": [call]}]
    errors = validate_body("ChatCompletionRequest", {"model": MODEL, "messages": messages})
    chunk_list = (
        "list[tagged-union[TextChunk,ImageURLChunk,DocumentURLChunk,ReferenceChunk,FileChunk,"
        "ThinkChunk,AudioChunk]]"
    )
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("string_type", ["body", "messages", 0, "user", "content", "str"]),
        ("string_type", ["body", "messages", 0, "user", "content", chunk_list, 0, "text", "text"]),
        ("missing", ["body", "messages", 1, "assistant", "tool_calls", 0, "function", "arguments"]),
        ("extra_forbidden", ["body", "messages", 1, "assistant", "tool_calls", 0, "name"]),
    ]


def test_more_schema_keywords() -> None:
    library = {"type": "document_library", "library_ids": []}
    item = one_error({"tools": [library]})
    assert item["type"] == "too_short"
    assert item["loc"] == ["body", "tools", 0, "document_library", "library_ids"]
    assert item["ctx"] == {"field_type": "List", "min_length": 1, "actual_length": 0}
    literal = one_error({"prediction": {"type": "text"}})
    assert (literal["type"], literal["loc"]) == ("literal_error", ["body", "prediction", "type"])
    assert (literal["msg"], literal["ctx"]) == (
        "Input should be 'content'",
        {"expected": "'content'"},
    )
    file_chunk = {"type": "file", "file_id": "xyz"}
    [_, uuid_error] = validate_body(
        "ChatCompletionRequest",
        {"model": MODEL, "messages": [{"role": "user", "content": [file_chunk]}]},
    )
    assert uuid_error["msg"] == "Input should be a valid UUID, invalid character: found `x` at 1"
    choice = validate_body(
        "ChatCompletionRequest", {"model": MODEL, "messages": HELLO, "tool_choice": "x"}
    )
    assert [e["loc"][-1] for e in choice] == ["ToolChoice", "str-enum[ToolChoiceEnum]"]


def test_a_rich_valid_body_passes() -> None:
    body = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}]},
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {
                "role": "tool",
                "content": "sunny",
                "tool_call_id": "abcDEF123",
                "name": "get_weather",
            },
        ],
        "tools": [WEATHER, {"type": "web_search"}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        "stop": ["\n"],
        "metadata": {"any": ["thing"]},
        "guardrails": [{"block_on_error": True}],
    }
    assert validate_body("ChatCompletionRequest", body) == []
    assert semantic_error(body) is None


def test_embedding_and_fim_schemas() -> None:
    assert validate_body("EmbeddingRequest", {"model": "mistral-embed", "input": ["a"]}) == []
    [item] = validate_body("EmbeddingRequest", {"model": "m", "input": "a", "output_dimension": 0})
    assert (item["type"], item["ctx"]) == ("greater_than", {"gt": 0})
    assert (
        validate_body("FIMCompletionRequest", {"model": "codestral-latest", "prompt": "def"}) == []
    )


def test_the_schema_subset_is_exactly_what_the_roots_reach() -> None:
    assert reachable(schemas(), ROOTS) == schemas()


# -- 400: the semantic rules --------------------------------------------------------------


def user(text: str = "Hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


def tool(call_id: str | None = "abcDEF123") -> dict[str, Any]:
    return {"role": "tool", "content": "sunny", "tool_call_id": call_id}


def assistant(**fields: Any) -> dict[str, Any]:
    return {"role": "assistant", **fields}


def bad_id(call_id: str) -> dict[str, Any]:
    message = f"Tool call id was {call_id} but must be a-z, A-Z, 0-9, with a length of 9."
    return error(message, "invalid_function_call", "3280")


def bad_args(message: str) -> dict[str, Any]:
    return error(message, "invalid_request_invalid_args", "3051")


def bad_order(current: str, previous: str) -> dict[str, Any]:
    message = f"Unexpected role '{current}' after role '{previous}'"
    return error(message, "invalid_request_message_order", "3230")


def bad_model(model: str) -> dict[str, Any]:
    return error(f"Invalid model: {model}", "invalid_model", "1500")


RENAMED = {**WEATHER, "function": {**WEATHER["function"], "name": "get weather"}}
NAME_RULE = (
    "but must be a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64."
)
LAST_ROLE = "Expected last role User or Tool (or Assistant with prefix True) for serving but got"
SEMANTIC_CASES = {
    "assistant tool call id": (
        {"messages": [user(), assistant(tool_calls=[{**CALL, "id": "turn1_0"}]), tool()]},
        bad_id("turn1_0"),
    ),
    "tool message call id": (
        {"messages": [user(), assistant(tool_calls=[CALL]), tool("call_12345")]},
        bad_id("call_12345"),
    ),
    "null tool_call_id": (
        {"messages": [user(), assistant(tool_calls=[CALL]), tool(None)]},
        error("Tool call id has to be defined."),
    ),
    "tool call without id": (
        {"messages": [user(), assistant(tool_calls=[{"function": CALL["function"]}]), tool()]},
        error("Tool call id has to be defined in serving mode.", "invalid_function_call", "3280"),
    ),
    "user after tool": (
        {"messages": [user(), assistant(tool_calls=[CALL]), tool(), user()]},
        bad_order("user", "tool"),
    ),
    "tool after user": ({"messages": [user(), tool()]}, bad_order("tool", "user")),
    "trailing assistant": (
        {"messages": [user(), assistant(content="Hello")]},
        error(f"{LAST_ROLE} assistant"),
    ),
    "prefix not last": (
        {"messages": [user(), assistant(content="Hi", prefix=True), user()]},
        error("Assistant message with prefix True must be last message"),
    ),
    "missing tool result": (
        {"messages": [user(), assistant(tool_calls=[CALL, {**CALL, "id": "xyzXYZ789"}]), tool()]},
        error("Not the same number of function calls and responses"),
    ),
    "empty assistant": (
        {"messages": [user(), assistant(content=""), user()]},
        error("Assistant message must have either content or tool_calls, but not none."),
    ),
    "empty conversation": ({"messages": []}, error("Conversation must have at least one message")),
    "lone assistant": (
        {"messages": [assistant(content="Hi", prefix=True)]},
        error("Conversation must start with a user message or system message"),
    ),
    "tool name": ({"tools": [RENAMED]}, error(f"Function name was get weather {NAME_RULE}")),
    "unknown model": ({"model": "mistral-medium-3.6"}, bad_model("mistral-medium-3.6")),
    "embedding model": ({"model": "mistral-embed"}, bad_model("mistral-embed")),
    "effort without reasoning": (
        {"model": "mistral-large-latest", "reasoning_effort": "high"},
        bad_args("reasoning_effort='high' is not supported for this model"),
    ),
    "unsupported effort level": (
        {"reasoning_effort": "low"},
        bad_args("reasoning_effort='low' is not supported for this model"),
    ),
    "prompt_mode off magistral": (
        {"prompt_mode": "reasoning"},
        bad_args("Reasoning prompt mode is not enabled for this model"),
    ),
}


@pytest.mark.parametrize(("fields", "expected"), SEMANTIC_CASES.values(), ids=SEMANTIC_CASES)
def test_semantic_rules_are_400_with_the_live_bodies(
    client: httpx.Client, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = chat(client, **fields)
    assert (response.status_code, response.json()) == (400, expected)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "Be brief."}],
        [user(), assistant(tool_calls=[CALL]), tool(), assistant(content="Sunny."), user()],
        [user(), assistant(content="Sure:", prefix=True)],
        [user(), user(), {"role": "system", "content": "x"}, user()],
        [user(), {"role": "system", "content": "Answer in French."}],
    ],
)
def test_valid_conversations_pass(client: httpx.Client, messages: list[dict[str, Any]]) -> None:
    assert chat(client, messages=messages).status_code == 200


# -- what the model answers ---------------------------------------------------------------


def message_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]


def test_prefix_starts_the_answer(client: httpx.Client) -> None:
    messages = [user(), assistant(content="Bonjour! ", prefix=True)]
    assert message_of(chat(client, messages=messages))["content"] == "Bonjour! " + DEFAULT_TEXT


@pytest.mark.parametrize(
    ("tools", "tool_choice"),
    [
        ([WEATHER, RENAMED_OK], "any"),
        ([WEATHER], "required"),
        ([RENAMED_OK, WEATHER], {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_forced_tool_choice_answers_with_a_call(
    client: httpx.Client, tools: list[dict[str, Any]], tool_choice: Any
) -> None:
    response = chat(client, tools=tools, tool_choice=tool_choice)
    message = message_of(response)
    assert message["content"] == ""
    [call] = message["tool_calls"]
    assert re.fullmatch(r"[a-zA-Z0-9]{9}", call["id"])
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "Paris"}
    assert call["index"] == 0
    assert response.json()["choices"][0]["finish_reason"] == "tool_calls"


def test_auto_tool_choice_answers_with_text(client: httpx.Client) -> None:
    assert message_of(chat(client, tools=[WEATHER]))["content"] == DEFAULT_TEXT


def test_max_tokens_cuts_the_answer(client: httpx.Client) -> None:
    body = chat(client, max_tokens=2).json()
    assert body["choices"][0]["message"]["content"] == DEFAULT_TEXT[:8]
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


def test_instructed_reasoning_uses_think_tags(client: httpx.Client) -> None:
    messages = [{"role": "system", "content": THINK_PROMPT}, user()]
    content = message_of(chat(client, model="magistral-small-2506", messages=messages))["content"]
    assert re.fullmatch(r"<think>\n.+\n</think>\n\n" + re.escape(DEFAULT_TEXT), content)
    plain = message_of(chat(client, model="magistral-small-2506"))["content"]
    assert plain == DEFAULT_TEXT


@pytest.mark.parametrize(
    ("model", "effort"),
    [("mistral-small-latest", "high"), ("magistral-medium-latest", None), ("glm-5-2", "low")],
)
def test_native_reasoning_answers_with_a_thinking_chunk(
    client: httpx.Client, model: str, effort: str | None
) -> None:
    fields = {"model": model} | ({"reasoning_effort": effort} if effort else {})
    thinking, text = message_of(chat(client, **fields))["content"]
    assert thinking["type"] == "thinking"
    assert thinking["closed"] is True
    assert thinking["thinking"][0]["type"] == "text"
    assert thinking["thinking"][0]["text"]
    assert text == {"type": "text", "text": DEFAULT_TEXT}


@pytest.mark.parametrize("model", ["mistral-small-latest", "magistral-small-latest"])
def test_reasoning_effort_none_answers_plain_text(client: httpx.Client, model: str) -> None:
    message = message_of(chat(client, model=model, reasoning_effort="none"))
    assert message["content"] == DEFAULT_TEXT


def test_respond_with_overrides_the_next_answer_once(
    fake_mistral: FakeMistral, client: httpx.Client
) -> None:
    fake_mistral.respond_with({"role": "assistant", "content": "Scripted."}, finish_reason="length")
    body = chat(client).json()
    assert body["choices"][0]["message"]["content"] == "Scripted."
    assert body["choices"][0]["finish_reason"] == "length"
    assert message_of(chat(client))["content"] == DEFAULT_TEXT


# -- streaming ----------------------------------------------------------------------------


def test_stream_has_the_live_shape(client: httpx.Client) -> None:
    response = chat(client, stream=True)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    chunks = stream_chunks(response)
    assert len(chunks) > 3
    assert len({(c["id"], c["created"], c["model"]) for c in chunks}) == 1
    for chunk in chunks:
        assert list(chunk)[:5] == ["id", "object", "created", "model", "choices"]
        assert chunk["object"] == "chat.completion.chunk"
        assert re.fullmatch(r"[a-z0-9]+", chunk["p"])
        assert chunk["choices"][0]["logprobs"] is None
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == DEFAULT_TEXT
    assert [c["choices"][0]["finish_reason"] for c in chunks[-2:]] == [None, "stop"]
    assert [("usage" in c) for c in chunks[-2:]] == [False, True]
    assert chunks[-1]["choices"][0]["delta"] == {"content": ""}
    plain = chat(client).json()["usage"]
    assert chunks[-1]["usage"] == plain


def test_streamed_tool_call_arrives_whole(client: httpx.Client) -> None:
    chunks = stream_chunks(chat(client, stream=True, tools=[WEATHER], tool_choice="any"))
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "tool_calls"
    delta = last["choices"][0]["delta"]
    assert delta["content"] is None
    [call] = delta["tool_calls"]
    assert list(call) == ["id", "function", "index"]
    assert json.loads(call["function"]["arguments"]) == {"location": "Paris"}
    assert "usage" in last


def test_streamed_cut_answer_ends_on_its_last_piece(client: httpx.Client) -> None:
    chunks = stream_chunks(chat(client, stream=True, max_tokens=3))
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == DEFAULT_TEXT[:12]
    assert chunks[-1]["choices"][0] | {"delta": None} == {
        "index": 0,
        "delta": None,
        "finish_reason": "length",
        "logprobs": None,
    }
    assert chunks[-1]["choices"][0]["delta"]["content"]


def test_streamed_think_tags_are_split_across_chunks(client: httpx.Client) -> None:
    messages = [{"role": "system", "content": THINK_PROMPT}, user()]
    chunks = stream_chunks(
        chat(client, model="magistral-medium-2506", messages=messages, stream=True)
    )
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks]
    assert "".join(pieces).startswith("<think>\n")
    assert not any("<think>" in piece or "</think>" in piece for piece in pieces)


def test_streamed_native_thinking_then_text(client: httpx.Client) -> None:
    chunks = stream_chunks(chat(client, reasoning_effort="high", stream=True))
    deltas = [c["choices"][0]["delta"]["content"] for c in chunks[1:]]
    thinking = [d for d in deltas if isinstance(d, list)]
    assert len(thinking) > 1
    assert all(d[0]["type"] == "thinking" and set(d[0]) == {"type", "thinking"} for d in thinking)
    assert deltas[: len(thinking)] == thinking
    assert "".join(deltas[len(thinking) :]) == DEFAULT_TEXT


def test_respond_with_streams_too(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.respond_with({"role": "assistant", "content": "One two three."})
    chunks = stream_chunks(chat(client, stream=True))
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "One two three."


def test_a_client_leaving_mid_stream_is_detected(
    fake_mistral: FakeMistral, client: httpx.Client
) -> None:
    fake_mistral.stream_delay = 0.02
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with client.stream("POST", "/chat/completions", json=body) as response:
        next(response.iter_lines())
    assert fake_mistral.disconnected.wait(2)
    assert fake_mistral.disconnects == 1


# -- scripted behaviours ------------------------------------------------------------------


def test_status_429_has_the_rate_limit_body(
    fake_mistral: FakeMistral, client: httpx.Client
) -> None:
    fake_mistral.script(Status(429, headers={"Retry-After": "3"}), Status(503))
    response = chat(client, bogus=True)  # scripts apply before validation
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json() == {
        "object": "error",
        "message": "Rate limit exceeded",
        "type": "rate_limited",
        "param": None,
        "code": "1300",
        "raw_status_code": 429,
    }
    unavailable = client.get("/models")
    assert unavailable.status_code == 503
    assert unavailable.json()["raw_status_code"] == 503
    assert chat(client).status_code == 200


def test_status_with_a_custom_body(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.script(Status(500, {"message": "boom"}), Status(502, "<html>bad gateway</html>"))
    assert chat(client).json() == {"message": "boom"}
    assert chat(client).text == "<html>bad gateway</html>"


def test_script_is_consumed_in_order(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.script(Normal(), Status(500), Normal())
    assert [chat(client).status_code for _ in range(4)] == [200, 500, 200, 200]


def test_delay_makes_a_client_time_out(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.script(Delay(0.3))
    with pytest.raises(httpx.ReadTimeout):
        client.post("/chat/completions", json={"model": MODEL, "messages": HELLO}, timeout=0.05)
    fake_mistral.script(Delay(0.05))
    assert chat(client).status_code == 200


def test_cut_stream_drops_the_connection(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.script(CutStream(2), CutStream(0))
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    lines = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json=body) as response,
    ):
        lines.extend(line for line in response.iter_lines() if line)
    assert len(lines) == 2
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client)


def test_clean_cut_stream_ends_without_done(
    fake_mistral: FakeMistral, client: httpx.Client
) -> None:
    fake_mistral.script(CutStream(3, clean=True))
    data = sse_data(chat(client, stream=True))
    assert len(data) == 3
    assert "[DONE]" not in data


def test_stall_stream_goes_silent(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.script(StallStream(1, 0.3))
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    lines = []
    with (
        pytest.raises(httpx.ReadTimeout),
        client.stream("POST", "/chat/completions", json=body, timeout=0.1) as response,
    ):
        lines.extend(line for line in response.iter_lines() if line)
    assert len(lines) == 1
    assert fake_mistral.disconnected.wait(2)  # the server notices once it speaks again


def test_bad_event_is_not_json(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.script(BadEvent(1))
    data = sse_data(chat(client, stream=True))
    json.loads(data[0])
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[1])
    assert data[-1] == "[DONE]"


def test_garbage_is_sent_as_is(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    fake_mistral.script(Garbage(b"<html>", status=502, content_type="text/html"))
    response = chat(client)
    assert (response.status_code, response.text) == (502, "<html>")
    assert response.headers["content-type"] == "text/html"


# -- embeddings ---------------------------------------------------------------------------


def vectors(response: httpx.Response) -> list[Any]:
    assert response.status_code == 200, response.text
    return [item["embedding"] for item in response.json()["data"]]


def test_embeddings_have_the_live_shape(client: httpx.Client) -> None:
    body = embed(client, input=["Embed this sentence.", "As well as this one."]).json()
    assert list(body) == ["id", "object", "data", "model", "usage"]
    assert body["object"] == "list"
    assert body["model"] == "mistral-embed"
    assert [(d["object"], d["index"], len(d["embedding"])) for d in body["data"]] == [
        ("embedding", 0, 1024),
        ("embedding", 1, 1024),
    ]
    assert body["usage"] == {"prompt_tokens": 10, "total_tokens": 10, "completion_tokens": 0}
    assert vectors(embed(client, input="Embed this sentence.")) == [body["data"][0]["embedding"]]


def test_codestral_embed_dimensions(client: httpx.Client) -> None:
    [default] = vectors(embed(client, model="codestral-embed", input="x"))
    [small] = vectors(embed(client, model="codestral-embed", input="x", output_dimension=256))
    [largest] = vectors(embed(client, model="codestral-embed", input="x", output_dimension=3072))
    assert (len(default), len(small), len(largest)) == (1536, 256, 3072)
    [packed] = vectors(embed(client, model="codestral-embed", input="x", output_dtype="binary"))
    assert len(packed) == 1536 // 8
    assert all(-128 <= v < 128 for v in packed)


def test_base64_embeddings_are_little_endian_float32(client: httpx.Client) -> None:
    [floats] = vectors(embed(client, input="x"))
    [encoded] = vectors(embed(client, input="x", encoding_format="base64"))
    assert list(struct.unpack("<1024f", base64.b64decode(encoded))) == floats


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"input": ["x"] * 513},
            error("Too many inputs in request, split into more batches.", code="3210"),
        ),
        (
            {"input": ["x" * 40000, "y" * 30000]},
            error("Too many tokens overall, split into more batches"),
        ),
        ({"model": MODEL, "input": "x"}, error(f"Invalid model: {MODEL}", "invalid_model", "1500")),
        (
            {"input": "x", "output_dimension": 256},
            error(
                "output_dimension is not supported for this model",
                "invalid_request_invalid_args",
                "3051",
            ),
        ),
        (
            {"model": "codestral-embed", "input": "x", "output_dimension": 4096},
            error(
                "output_dimension must be at most 3072 for this model",
                "invalid_request_invalid_args",
                "3051",
            ),
        ),
    ],
)
def test_embedding_limits_are_400(
    client: httpx.Client, fields: dict[str, Any], expected: dict
) -> None:
    response = embed(client, **fields)
    assert (response.status_code, response.json()) == (400, expected)


def test_embeddings_validate_the_schema(client: httpx.Client) -> None:
    response = embed(client, input="x", dimensions=3)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "dimensions"]


# -- models, FIM, routes ------------------------------------------------------------------


def test_models_list_every_known_model(client: httpx.Client) -> None:
    body = client.get("/models").json()
    assert body["object"] == "list"
    assert [card["id"] for card in body["data"]] == list(MODELS)
    card = client.get("/models/codestral-latest").json()
    assert list(card) == [
        "id", "object", "created", "owned_by", "capabilities", "name", "description",
        "max_context_length", "aliases", "deprecation", "deprecation_replacement_model",
        "default_model_temperature", "type",
    ]  # fmt: skip
    assert card["capabilities"]["completion_fim"] is True
    assert card["max_context_length"] == 128000


def test_models_the_project_must_know_are_there() -> None:
    must_know = (
        "mistral-tiny mistral-small-latest mistral-medium-latest mistral-large-2407 "
        "mistral-large-latest magistral-small-2506 magistral-medium-2506 open-mistral-7b "
        "open-mixtral-8x7b open-mixtral-8x22b codestral-latest open-mistral-nemo "
        "open-mistral-nemo-2407 open-codestral-mamba codestral-mamba-latest mistral-embed "
        "codestral-embed codestral-embed-2505 mistral-embed-2312 mistral-moderation-latest"
    )
    assert set(must_know.split()) <= MODELS.keys()
    assert MODELS["magistral-small-2506"].reasoning == "instructed"
    assert MODELS["mistral-small-2603"].efforts == ("none", "high")


def test_unknown_model_and_route_are_404(fake_mistral: FakeMistral, client: httpx.Client) -> None:
    assert client.get("/models/nope").json() == {"detail": "Not Found"}
    response = httpx.get(f"{fake_mistral.base_url}/nope")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})


def test_fim_completion(client: httpx.Client) -> None:
    response = client.post(
        "/fim/completions", json={"model": "codestral-latest", "prompt": "def f(a, b):"}
    )
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]
    not_fim = client.post("/fim/completions", json={"model": MODEL, "prompt": "def"})
    assert not_fim.json()["type"] == "invalid_model"
