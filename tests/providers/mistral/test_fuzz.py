"""Bad input never escapes as anything but a clear 4xx-class error naming the field.

Random OpenAI-style requests — wrong types, odd unicode, huge numbers, deep nesting, empty
lists — either translate to a body Mistral's schema accepts and that encodes as JSON, or
raise an ``APIStatusError`` with a 4xx status whose ``param`` (or message) names the
offending field.  Encoding is ``encode_body``, exactly what ``_prepare`` sends: orjson,
whose refusals (an integer beyond 64 bits inside ``metadata``, say) become such a 4xx too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatewise import APIStatusError
from gatewise._prepare import encode_body
from gatewise.providers.mistral import build_chat_body, build_embedding_body
from gatewise.providers.mistral.embeddings import BODY_FIELDS as EMBEDDING_FIELDS
from gatewise.providers.mistral.params import BODY_FIELDS as CHAT_FIELDS
from tests.fake_mistral import validate_body
from tests.providers.mistral._helpers import NATIVE

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
    st.sampled_from(["", "\x00", "\u202e", "🦜", "\udc00 lone surrogate", "text", "function",
                     "user", "auto"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(
                                ["type", "text", "content", "role", "name", "url", "function",
                                 "arguments", "id", "image_url", "parameters", "x"]),
                                inner, max_size=4)),
    max_leaves=12,
)
ROLES = ["system", "developer", "user", "assistant", "tool", "function", "bot", None, 3]
message_keys = st.sampled_from(["role", "content", "name", "tool_calls", "tool_call_id",
                                "function_call", "reasoning_content", "prefix", "refusal"])


def _message(role: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "role": role} if role != "<missing>" else fields


messages = st.one_of(
    json_values,
    st.lists(st.one_of(
        json_values,
        st.builds(_message, st.sampled_from([*ROLES, "<missing>"]),
                  st.dictionaries(message_keys, json_values, max_size=4)),
        st.builds(lambda c: {"role": "user", "content": c}, json_values),
    ), max_size=5),
)
PARAMS = ["temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "n", "seed",
          "tools", "tool_choice", "response_format", "stream_options", "prediction",
          "parallel_tool_calls", "metadata", "reasoning_effort", "thinking", "functions",
          "function_call", "presence_penalty", "frequency_penalty", "user", "store",
          "service_tier", "safe_prompt", "random_seed", "guardrails", "prompt_mode"]
params = st.dictionaries(st.sampled_from(PARAMS), json_values, max_size=4)


def _as_json(value: Any) -> Any:
    """What ``value`` reads back as from JSON: NaN and infinities as null (orjson's way),
    compared so that NaN equals NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_json(v) for v in value]
    return value


def _names_the_field(error: APIStatusError) -> bool:
    return bool(error.param) or any(word in error.message for word in (*PARAMS, "messages"))


def _outcome(build: Callable[[], dict[str, Any]]
             ) -> tuple[dict[str, Any], bytes] | APIStatusError:
    """The body and its bytes as ``_prepare`` would send them, or the error raised."""
    try:
        body = build()
        return body, encode_body(body)
    except APIStatusError as error:
        return error


@SETTINGS
@given(messages=messages, params=params)
def test_any_chat_input_is_translated_or_refused_clearly(messages: Any, params: Any) -> None:
    outcome = _outcome(lambda: build_chat_body("mistral-small-latest", messages, params,
                                               model_info=NATIVE))
    if isinstance(outcome, APIStatusError):
        assert 400 <= outcome.status_code < 500, outcome
        assert _names_the_field(outcome), outcome
        return
    body, encoded = outcome
    assert validate_body("ChatCompletionRequest", body) == [], body
    assert set(body) <= CHAT_FIELDS, body  # extra_body may only add fields gatewise never writes
    assert orjson.loads(encoded) == _as_json(body)


@SETTINGS
@given(inputs=json_values, params=st.dictionaries(
    st.sampled_from(["dimensions", "encoding_format", "output_dtype", "user", "metadata"]),
    json_values, max_size=3))
def test_any_embedding_input_is_translated_or_refused_clearly(inputs: Any, params: Any
                                                              ) -> None:
    outcome = _outcome(lambda: build_embedding_body("mistral-embed", inputs, params))
    if isinstance(outcome, APIStatusError):
        assert 400 <= outcome.status_code < 500, outcome
        assert outcome.param or "input" in outcome.message, outcome
        return
    body, encoded = outcome
    assert validate_body("EmbeddingRequest", body) == [], body
    assert set(body) <= EMBEDDING_FIELDS, body
    assert orjson.loads(encoded) == _as_json(body)
