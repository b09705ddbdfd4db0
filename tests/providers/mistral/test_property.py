"""Property tests: any valid OpenAI-style request translates into a body Mistral serves,
and a streamed answer adds up to exactly what the non-streamed parser gives.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.mistral import build_chat_body, parse_chat_response, stream_translator
from tests.fake_mistral import semantic_error, validate_body
from tests.providers.mistral._helpers import INSTRUCTED, NATIVE, PLAIN, nulls

SETTINGS = settings(max_examples=200, deadline=None)
Message = dict[str, Any]

MODELS: list[tuple[str, ModelInfo | None]] = [
    ("mistral-small-latest", NATIVE), ("magistral-small-2506", INSTRUCTED),
    ("mistral-large-latest", PLAIN), ("mistral-large-latest", None)]
FUNCTION_NAMES = ["get_weather", "search-web", "lookup_2", "f"]
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAE="

text = st.text(max_size=12)
nonempty_text = st.text(min_size=1, max_size=12).filter(str.strip)
alnum = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                min_size=1, max_size=24)
tool_call_ids = st.one_of(
    alnum.map(lambda s: f"call_{s}"), alnum.map(lambda s: f"toolu_01{s}"),
    st.text(alphabet="abcXYZ019", min_size=9, max_size=9), st.uuids().map(str), alnum)
extras = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["bob", "Alice Smith", "x"]), "metadata": st.just({"k": 1}),
    "cache_control": st.just({"type": "ephemeral"})})


def with_extras(message: Message, more: dict[str, Any]) -> Message:
    return {**more, **message}


image_part = st.one_of(
    st.sampled_from(["https://example.test/cat.png", PNG]).map(
        lambda url: {"type": "image_url", "image_url": url}),
    st.fixed_dictionaries(
        {"url": st.sampled_from(["https://example.test/cat.png", PNG])},
        optional={"detail": st.sampled_from(["low", "auto", "high", "original", None])},
    ).map(lambda image: {"type": "image_url", "image_url": image}),
)
text_part: st.SearchStrategy[Message] = st.builds(
    lambda t, cc: {"type": "text", "text": t, **cc}, text,
    st.sampled_from([{}, {"cache_control": {"type": "ephemeral"}}]))
other_part = st.sampled_from([
    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=",
                              "filename": "a.pdf"}},
    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    {"type": "document_url", "document_url": "https://example.test/a.pdf"},
])
user_content = st.one_of(nonempty_text, st.lists(
    st.one_of(text_part, image_part, other_part), min_size=1, max_size=4))
system_content = st.one_of(text, st.lists(text_part, min_size=1, max_size=3))
assistant_text = st.one_of(nonempty_text, st.lists(
    nonempty_text.map(lambda t: {"type": "text", "text": t}), min_size=1, max_size=2))
arguments = st.one_of(st.just("{}"), st.dictionaries(st.sampled_from("abc"), st.integers(),
                                                     max_size=2))


@st.composite
def system_messages(draw: st.DrawFn) -> list[Message]:
    roles = draw(st.lists(st.sampled_from(["system", "developer"]), max_size=2))
    return [with_extras({"role": r, "content": draw(system_content)}, draw(extras))
            for r in roles]


@st.composite
def user_message(draw: st.DrawFn) -> Message:
    return with_extras({"role": "user", "content": draw(user_content)}, draw(extras))


@st.composite
def text_reply(draw: st.DrawFn) -> Message:
    message: Message = {"role": "assistant", "content": draw(assistant_text)}
    if draw(st.booleans()):
        message["reasoning_content"] = draw(nonempty_text)
    more: dict[str, Any] = draw(st.fixed_dictionaries({}, optional={
        "name": st.just("bot"), "refusal": st.none(), "audio": st.none(),
        "annotations": st.just([]), "prefix": st.booleans()}))
    return with_extras(message, more)


empty_reply: st.SearchStrategy[Message] = st.sampled_from([
    {"role": "assistant", "content": None}, {"role": "assistant", "content": ""},
    {"role": "assistant", "content": []}, {"role": "assistant", "tool_calls": []}])


@st.composite
def tool_round(draw: st.DrawFn) -> list[Message]:
    """An assistant calling tools, then one result per call (in any order)."""
    count = draw(st.integers(1, 3))
    ids = draw(st.lists(tool_call_ids, min_size=count, max_size=count, unique=True))
    calls: list[Message] = [{"id": call_id, "type": "function", "index": i,
              "function": {"name": draw(st.sampled_from(FUNCTION_NAMES)),
                           "arguments": draw(arguments)}} for i, call_id in enumerate(ids)]
    reply: Message = {"role": "assistant", "content": draw(st.sampled_from([None, "", "Hm."])),
                      "tool_calls": calls}
    if draw(st.booleans()):
        reply["reasoning_content"] = draw(nonempty_text)
    results = []
    for call in draw(st.permutations(calls)):
        result: Message = {"role": "tool", "content": draw(st.one_of(text, st.none(), st.lists(
            text_part, min_size=1, max_size=2)))}
        if count > 1 or draw(st.booleans()):  # a lone call may be answered without an id
            result["tool_call_id"] = call["id"]
        if draw(st.booleans()):
            result["name"] = draw(st.sampled_from([call["function"]["name"], "not a name"]))
        results.append(result)
    return [reply, *results]


@st.composite
def legacy_round(draw: st.DrawFn) -> list[Message]:
    name = draw(st.sampled_from(FUNCTION_NAMES))
    return [{"role": "assistant", "content": None,
             "function_call": {"name": name, "arguments": draw(arguments)}},
            {"role": "function", "name": name, "content": draw(text)}]


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    history = draw(system_messages())
    for _ in range(draw(st.integers(1, 4))):
        history.append(draw(user_message()))
        instructed = draw(st.booleans())  # a system word between user and assistant
        if instructed:
            history.append({"role": "developer", "content": draw(text)})
        for _ in range(draw(st.integers(0, 2))):
            history.extend(draw(st.one_of(tool_round(), legacy_round())))
            history.extend(draw(st.lists(empty_reply, max_size=1)))
        if instructed or draw(st.booleans()):
            history.append(draw(text_reply()))
        history.extend(draw(st.lists(empty_reply, max_size=1)))
    return history


schema_with_meta = st.fixed_dictionaries(
    {"type": st.just("object"),
     "properties": st.just({"q": {"type": "string", "$comment": "query"}})},
    optional={"$schema": st.just("http://json-schema.org/draft-07/schema#"),
              "$id": st.just("urn:tool"), "additionalProperties": st.just(False)})
function_def = st.fixed_dictionaries(
    {"name": st.sampled_from(FUNCTION_NAMES)},
    optional={"description": st.one_of(text, st.none()), "parameters": schema_with_meta,
              "strict": st.booleans()})
tool_choices = st.one_of(
    st.sampled_from(["auto", "none", "required", None]),
    st.sampled_from(FUNCTION_NAMES).map(
        lambda n: {"type": "function", "function": {"name": n}}))
response_formats = st.sampled_from([
    {"type": "text"}, {"type": "json_object"},
    {"type": "json_schema", "json_schema": {"name": "answer", "strict": True, "schema": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"a": {"type": "string"}}}}},
    {"type": "json_schema", "json_schema": {"schema": {"type": "object"}, "description": None}},
])
params_strategy = st.fixed_dictionaries({}, optional={
    "temperature": st.one_of(st.none(), st.floats(0, 1.5)),
    "top_p": st.one_of(st.none(), st.floats(0.01, 1)),
    "max_tokens": st.integers(0, 4096),
    "max_completion_tokens": st.one_of(st.none(), st.integers(0, 4096)),
    "stop": st.one_of(text, st.lists(text, max_size=2)),
    "n": st.integers(1, 3),
    "presence_penalty": st.floats(-2, 2),
    "frequency_penalty": st.floats(-2, 2),
    "seed": st.integers(0, 2**31),
    "response_format": response_formats,
    "parallel_tool_calls": st.booleans(),
    "prediction": st.one_of(
        text.map(lambda t: {"type": "content", "content": t}),
        st.lists(text_part, max_size=2).map(lambda p: {"type": "content", "content": p})),
    "metadata": st.just({"user_id": "42"}),
    "safe_prompt": st.booleans(),
    "service_tier": st.sampled_from(["auto", "standard_only", "default", "flex", "priority"]),
    "prompt_cache_key": text,
    "user": text, "store": st.booleans(), "safety_identifier": text,
    "stream": st.booleans(),
    "stream_options": st.just({"include_usage": True}),
    "tools": st.lists(function_def.map(lambda f: {"type": "function", "function": f}),
                      max_size=3),
    "tool_choice": tool_choices,
    "reasoning_effort": st.sampled_from(["none", "minimal", "low", "medium", "high",
                                         "xhigh", "max"]),
    "thinking": st.sampled_from([{"type": "enabled", "budget_tokens": 1024},
                                 {"type": "disabled"}]),
})
legacy_functions = st.fixed_dictionaries({}, optional={
    "functions": st.lists(function_def, min_size=1, max_size=2),
    "function_call": st.one_of(st.sampled_from(["auto", "none"]), st.sampled_from(
        FUNCTION_NAMES).map(lambda n: {"name": n}))})


@SETTINGS
@given(conversations(), params_strategy, legacy_functions, st.sampled_from(MODELS))
def test_translated_requests_are_served(history: list[Message], params: dict[str, Any],
                                        legacy: dict[str, Any],
                                        model: tuple[str, ModelInfo | None]) -> None:
    if "tools" not in params:
        params = {**params, **legacy}
    model_id, info = model
    body = build_chat_body(model_id, history, params, model_info=info)
    assert validate_body("ChatCompletionRequest", body) == []
    assert semantic_error(body) is None
    assert nulls(body) == []


# ---- streamed == non-streamed --------------------------------------------------------

tagged_text = st.lists(st.one_of(
    st.sampled_from(["<think>", "</think>", "<", "</", "<th", "think>", "\n", " ", "\n\n"]),
    st.text(alphabet="ab <>/\n", max_size=6)), max_size=12).map("".join)


def _cut(value: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(value) + 1) for c in cuts})
    return [value[a:b] for a, b in zip([0, *points], [*points, len(value)], strict=True)]


def _stream(pieces: list[Any], include_usage: bool) -> dict[str, str]:
    params = {"stream_options": {"include_usage": True}} if include_usage else {}
    translator = stream_translator("m", params)
    events = [{"id": "x", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
              for piece in pieces]
    events.append({"id": "x", "created": 1, "model": "m", "usage": {"prompt_tokens": 1},
                   "choices": [{"index": 0, "delta": {"content": ""},
                                "finish_reason": "stop"}]})
    chunks = [c for e in events for c in translator.feed(e)] + translator.finish()
    assert sum("usage" in c for c in chunks) == 1
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    return {key: "".join(d.get(key, "") for d in deltas)
            for key in ("content", "reasoning_content")}


def _parsed(content: Any) -> dict[str, str]:
    answer = {"choices": [{"message": {"role": "assistant", "content": content}}]}
    message = parse_chat_response(answer, model="m")["choices"][0]["message"]
    return {"content": message["content"], "reasoning_content":
            message.get("reasoning_content", "")}


@SETTINGS
@given(tagged_text, st.lists(st.integers(0, 10_000), max_size=8), st.booleans())
def test_streamed_think_text_adds_up_to_the_parsed_answer(
        answer: str, cuts: list[int], include_usage: bool) -> None:
    assert _stream(_cut(answer, cuts), include_usage) == _parsed(answer)


@SETTINGS
@given(text, text, st.lists(st.integers(0, 10_000), max_size=6),
       st.lists(st.integers(0, 10_000), max_size=6), st.booleans())
def test_streamed_thinking_chunks_add_up_to_the_parsed_answer(
        thinking: str, answer: str, thinking_cuts: list[int], answer_cuts: list[int],
        answer_as_strings: bool) -> None:
    pieces: list[Any] = [[{"type": "thinking", "thinking": [{"type": "text", "text": p}]}]
                         for p in _cut(thinking, thinking_cuts)]
    pieces += [p if answer_as_strings else [{"type": "text", "text": p}]
               for p in _cut(answer, answer_cuts)]
    whole = [{"type": "thinking", "thinking": [{"type": "text", "text": thinking}]},
             {"type": "text", "text": answer}]
    assert _stream(pieces, False) == _parsed(whole)
