"""FIM: OpenAI's legacy completions <-> Mistral's ``/v1/fim/completions``, dicts only.

Every body built is checked against the official ``FIMCompletionRequest`` schema; the
stream translator is held to one rule: the relay's fast path gives the events the decoding
path gives, however the stream is cut into reads."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewise._exceptions import BadRequestError, InternalServerError, UnsupportedParamsError
from gatewise._http._sse import EventDecoder
from gatewise._relay import SseRelay, encode_event
from gatewise._streaming import translate
from gatewise.providers.mistral import (
    build_fim_body,
    fim_stream_translator,
    parse_fim_response,
    passthrough,
)
from tests.fake_mistral import validate_body

MODEL = "codestral-latest"
HEAD = {"id": "0123456789abcdef0123456789abcdef", "object": "chat.completion.chunk",
        "created": 1769088854, "model": MODEL}
USAGE = {"prompt_tokens": 7, "total_tokens": 12, "completion_tokens": 5}


def fim(prompt: Any = "def add(a, b):", /, **params: Any) -> dict[str, Any]:
    drop = params.pop("drop_params", False)
    body = build_fim_body(MODEL, prompt, params, drop_params=drop)
    assert validate_body("FIMCompletionRequest", body) == []
    return body


# -- the request ------------------------------------------------------------------------------

def test_openai_fields_map_to_mistral_fields() -> None:
    body = fim("def f(", suffix="return x", max_tokens=64, min_tokens=2, stop=["\n\n"],
               temperature=0.2, top_p=0.9, seed=7, stream=True, metadata={"k": "v"},
               prompt_cache_key="abc")
    assert body == {"model": MODEL, "prompt": "def f(", "suffix": "return x", "max_tokens": 64,
                    "min_tokens": 2, "stop": ["\n\n"], "temperature": 0.2, "top_p": 0.9,
                    "random_seed": 7, "stream": True, "metadata": {"k": "v"},
                    "prompt_cache_key": "abc"}


def test_names_that_mean_the_same_thing() -> None:
    assert fim(random_seed=3, seed=9)["random_seed"] == 3  # Mistral's own name wins
    assert fim(max_completion_tokens=5, max_tokens=9)["max_tokens"] == 5  # the newer name
    assert "stream" not in fim(stream=False)


def test_client_noise_and_harmless_defaults_are_dropped() -> None:
    # What LangChain's legacy OpenAI LLM sends on every call, and clients' bookkeeping.
    body = fim(["def f("], n=1, best_of=1, echo=False, logprobs=None, logit_bias={},
               presence_penalty=0, frequency_penalty=0, user="u", extra_headers={"x": "y"},
               stream_options={"include_usage": True})
    assert body == {"model": MODEL, "prompt": "def f("}


@pytest.mark.parametrize(("params", "named"), [
    ({"logprobs": 2}, "logprobs"), ({"echo": True}, "echo"), ({"best_of": 3}, "best_of"),
    ({"n": 2}, "n"), ({"logit_bias": {"50256": -100}}, "logit_bias"),
    ({"presence_penalty": 0.5}, "presence_penalty"), ({"tools": []}, "tools"),
    ({"logprobs": 1, "echo": True}, "logprobs, echo"),
])
def test_what_fim_cannot_honour_is_refused_or_dropped(params: dict[str, Any], named: str
                                                      ) -> None:
    with pytest.raises(UnsupportedParamsError) as caught:
        fim(**params)
    assert caught.value.param == named and named in caught.value.message
    assert "drop_params" in caught.value.message
    assert fim(drop_params=True, **params) == {"model": MODEL, "prompt": "def add(a, b):"}


@pytest.mark.parametrize(("prompt", "error", "why"), [
    (["a", "b"], UnsupportedParamsError, "one prompt per request"),
    ([1, 2, 3], UnsupportedParamsError, "token ids"),
    (None, BadRequestError, "must be a string"),
    (3, BadRequestError, "must be a string"),
    ([], BadRequestError, "must be a string"),
    ([None], BadRequestError, "must be a string"),
])
def test_prompts_mistral_cannot_take(prompt: Any, error: type[Exception], why: str) -> None:
    with pytest.raises(error) as caught:
        build_fim_body(MODEL, prompt, {}, drop_params=True)  # a prompt is never dropped
    assert type(caught.value) is error
    assert caught.value.param == "prompt" and why in str(caught.value)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("params", "named"), [
    ({"temperature": 2}, "temperature"), ({"top_p": 0}, "top_p"), ({"min_tokens": -1},
                                                                    "min_tokens"),
    ({"max_tokens": "many"}, "max_tokens"), ({"suffix": 3}, "suffix"), ({"stop": [1]}, "stop"),
    ({"seed": -1}, "seed"), ({"stream": "yes"}, "stream"), ({"extra_body": []}, "extra_body"),
])
def test_values_mistral_would_refuse_are_refused_first(params: dict[str, Any], named: str
                                                       ) -> None:
    with pytest.raises(BadRequestError) as caught:
        build_fim_body(MODEL, "x", params)
    assert caught.value.param == named


def test_extra_body_goes_as_it_is() -> None:
    assert build_fim_body(MODEL, "x", {"extra_body": {"bogus": 1}})["bogus"] == 1


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-1, 3),
                    st.text(max_size=3), st.lists(st.text(max_size=2), max_size=2),
                    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompt=st.one_of(st.text(max_size=5), _VALUES),
       params=st.dictionaries(st.sampled_from([
           "suffix", "max_tokens", "min_tokens", "stop", "temperature", "top_p", "seed",
           "random_seed", "stream", "metadata", "n", "echo", "logprobs", "best_of", "user",
           "logit_bias", "presence_penalty", "max_completion_tokens", "prompt_cache_key"]),
           _VALUES, max_size=6),
       drop=st.booleans())
def test_any_input_is_a_schema_valid_body_or_a_clear_400(prompt: Any, params: dict[str, Any],
                                                         drop: bool) -> None:
    outcome: dict[str, Any] | BadRequestError
    try:
        outcome = build_fim_body(MODEL, prompt, params, drop_params=drop)
    except BadRequestError as error:
        outcome = error
    if isinstance(outcome, BadRequestError):
        assert outcome.param and outcome.status_code == 400
    else:
        assert validate_body("FIMCompletionRequest", outcome) == []


# -- the answer -------------------------------------------------------------------------------

def test_the_answer_is_a_text_completion() -> None:
    answer = {"id": "447e", "object": "chat.completion", "model": "codestral-2508",
              "usage": {**USAGE, "prompt_tokens_details": {"cached_tokens": 2}},
              "created": 1702256327,
              "choices": [{"index": 0, "finish_reason": "model_length", "message": {
                  "role": "assistant", "tool_calls": None, "prefix": False,
                  "content": "    return a + b"}}]}
    assert parse_fim_response(answer, model=MODEL) == {
        "id": "447e", "object": "text_completion", "created": 1702256327,
        "model": "codestral-2508",
        "choices": [{"index": 0, "text": "    return a + b", "logprobs": None,
                     "finish_reason": "length"}],
        "usage": {**USAGE, "prompt_tokens_details": {"cached_tokens": 2}}}


def test_an_answer_missing_parts_is_read_with_defaults() -> None:
    parsed = parse_fim_response({"choices": [None, {"message": {"content": [
        {"type": "text", "text": "a"}, {"type": "image_url"}]}}]}, model=MODEL)
    assert parsed["model"] == MODEL and parsed["id"] == ""
    assert parsed["choices"] == [{"index": 1, "text": "a", "logprobs": None,
                                  "finish_reason": None}]
    assert parsed["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


# -- the stream -------------------------------------------------------------------------------

def event(text: str | None = None, finish: str | None = None, *, role: bool = False,
          usage: bool = False, noise: bool = False) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant", "content": ""} if role else {"content": text}
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    if noise:
        choice["logprobs"] = None
    out: dict[str, Any] = {**HEAD, "choices": [choice]}
    if usage:
        out["usage"] = USAGE
    if noise:
        out["p"] = "abcdef0123"
    return out


def stream_of(texts: list[str], *, noise: bool = False) -> list[dict[str, Any]]:
    return [event(role=True, noise=noise), *(event(t, noise=noise) for t in texts),
            event("", "stop", usage=True, noise=noise)]


def sse(events: list[dict[str, Any]], *, ascii_only: bool = False) -> bytes:
    dump = (lambda e: json.dumps(e, separators=(",", ":"))) if ascii_only else (
        lambda e: orjson.dumps(e).decode())
    return ("".join(f"data: {dump(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()


def by_decoding(data: bytes, params: dict[str, Any]) -> bytes:
    chunks = translate(EventDecoder().feed(data), fim_stream_translator(MODEL, params))
    return b"".join(encode_event(c) for c in chunks)


def by_relay(reads: list[bytes], params: dict[str, Any]) -> bytes:
    relay = SseRelay(fim_stream_translator(MODEL, params))
    out = b""
    for read in reads:
        out += b"".join(relay.feed(read))
        if relay.done:
            break
    assert relay.done
    return out + b"".join(relay.finish())


def chunks_of(out: bytes) -> list[dict[str, Any]]:
    events = out.split(b"\n\n")
    assert events.pop() == b""
    return [orjson.loads(e.removeprefix(b"data: ")) for e in events]


def test_a_stream_becomes_text_completion_chunks() -> None:
    chunks = chunks_of(by_decoding(sse(stream_of(["    return", " a + b"])), {}))
    assert [c["object"] for c in chunks] == ["text_completion"] * 3  # no role chunk
    assert [c["choices"][0]["text"] for c in chunks] == ["    return", " a + b", ""]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == USAGE  # on the finishing chunk, as for chat
    assert all(c["choices"][0]["logprobs"] is None and c["id"] == HEAD["id"] for c in chunks)


def test_include_usage_gives_a_last_chunk_with_usage_alone() -> None:
    chunks = chunks_of(by_decoding(sse(stream_of(["x"])),
                                   {"stream_options": {"include_usage": True}}))
    assert "usage" not in chunks[-2] and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE


def test_an_error_event_mid_stream_raises() -> None:
    translator = fim_stream_translator(MODEL, {})
    translator.feed(event(role=True))
    with pytest.raises(InternalServerError, match="overloaded"):
        translator.feed({"object": "error", "message": "overloaded", "type": "x", "code": 1})


TEXTS = st.one_of(
    st.sampled_from(["    return", " a < b", "<", "</div>", " \"quoted\"", " back\\slash\\",
                     "\n", "\t", " é 漢字 🙂", "\\u003c", " x\\", "\\\"", "", " {\"k\": 1}",
                     "<think>", " a\":b"]),
    st.text(max_size=10))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXTS, max_size=12), noise=st.booleans(), ascii_only=st.booleans(),
       include_usage=st.booleans(), sizes=st.lists(st.integers(1, 400), min_size=1,
                                                   max_size=30))
def test_the_relay_says_what_decoding_says(texts: list[str], noise: bool, ascii_only: bool,
                                           include_usage: bool, sizes: list[int]) -> None:
    data = sse(stream_of(texts, noise=noise), ascii_only=ascii_only)
    params = {"stream_options": {"include_usage": include_usage}}
    # The same events (a text's escapes are the upstream's on the fast path, orjson's
    # on the other).
    assert chunks_of(by_relay(cut(data, sizes), params)) == chunks_of(by_decoding(data, params))


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` in reads of the given sizes, over and over."""
    reads, pos, turn = [], 0, 0
    while pos < len(data):
        size = sizes[turn % len(sizes)]
        reads.append(data[pos:pos + size])
        pos, turn = pos + size, turn + 1
    return reads


def test_plain_runs_are_rewritten_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f" w{i} < {i}" for i in range(100)]  # code has "<": still plain here
    data = sse(stream_of(texts, noise=True))
    decoded: list[int] = []
    translator = fim_stream_translator(MODEL, {})
    real_feed = translator.feed

    def counting_feed(event: dict[str, Any]) -> list[dict[str, Any]]:
        decoded.append(1)
        return real_feed(event)

    monkeypatch.setattr(translator, "feed", counting_feed)
    relay = SseRelay(translator)
    out = b"".join(relay.feed(data)) + b"".join(relay.finish())
    assert out == by_decoding(data, {})
    assert len(decoded) <= 4  # the role, maybe the first words, the finish: not 100 texts
    assert b'"p":' not in out and b"chat.completion" not in out


def test_the_fast_path_keeps_what_chat_needs() -> None:
    """Chat's relay still sends "<" the decoding way (its <think> splitter must see it)."""
    head = passthrough.head_of(encode_event({**HEAD, "choices": [
        {"index": 0, "delta": {"content": ""}, "finish_reason": None}]}))
    plain = sse([event(" a < b")])[:-len(b"data: [DONE]\n\n")]
    assert passthrough.plain_run(plain, 0, len(plain), head) == (b"", 0)
    assert passthrough.plain_run(plain, 0, len(plain), head, tags=False)[1] == len(plain)
