"""Request parameters: OpenAI's keyword arguments -> Mistral's top-level fields (§2.1).

Every parameter falls in one of four bins: passed as is, renamed or reshaped, client noise
that means nothing to Mistral (dropped silently), or something that would change the answer
and that Mistral cannot honour (``UnsupportedParamsError`` unless ``drop_params=True``).
Unknown keys land in the last bin: a typo must not silently lose a setting.
"""

from __future__ import annotations

from typing import Any

from gatewise._exceptions import UnsupportedParamsError
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import CHECKS, bad
from gatewise.providers.mistral.tools import (
    checked_schema,
    translate_legacy_function_call,
    translate_legacy_functions,
    translate_tool_choice,
    translate_tools,
)

# Same name, same meaning on both sides.
PASSTHROUGH = frozenset({
    "temperature", "top_p", "max_tokens", "stop", "n", "presence_penalty",
    "frequency_penalty", "parallel_tool_calls", "metadata",
    # Mistral-only
    "safe_prompt", "random_seed", "prompt_mode", "guardrails", "prompt_cache_key",
})
# Client bookkeeping with no Mistral meaning (stream_options is the stream translator's).
NOISE = frozenset({"user", "store", "stream_options", "extra_headers", "safety_identifier"})
# Handled by name below or by build_chat_body: the Mistral field each one may write.
PRODUCES: dict[str, str | None] = {
    "stream": "stream", "max_completion_tokens": "max_tokens", "seed": "random_seed",
    "tools": "tools", "functions": "tools", "tool_choice": "tool_choice",
    "function_call": "tool_choice", "response_format": "response_format",
    "prediction": "prediction", "service_tier": "service_tier",
    "reasoning_effort": "reasoning_effort", "thinking": "reasoning_effort",
    "extra_body": None,  # checked and merged by build_chat_body (see BODY_FIELDS)
}
HANDLED = frozenset(PRODUCES)
# Every field of the body gatewise writes or validates itself: a caller's extra_body may add
# other fields, never replace one of these (the model, the checked messages, the limits).
BODY_FIELDS = frozenset({"model", "messages", *PASSTHROUGH,
                         *(field for field in PRODUCES.values() if field is not None)})
MISTRAL_SERVICE_TIERS = frozenset({"auto", "standard_only"})
OPENAI_SERVICE_TIERS = frozenset({"default", "flex", "priority", "scale"})


def _harmless(key: str, value: Any) -> bool:
    """Values of unsupported parameters that ask for nothing beyond the default."""
    if key == "logprobs":
        return value is False
    if key == "top_logprobs":
        return bool(value == 0)
    if key == "logit_bias":
        return bool(value == {})
    if key == "modalities":
        return bool(value == ["text"])
    return False


def unsupported_error(names: list[str]) -> UnsupportedParamsError:
    import difflib  # only on this error path

    known = sorted(PASSTHROUGH | HANDLED)
    described = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        described.append(f"{name} (did you mean {close[0]!r}?)" if close else name)
    return UnsupportedParamsError(
        f"Mistral does not support the parameter(s) {', '.join(described)}; "
        "pass drop_params=True to drop them instead",
        provider="mistral", param=", ".join(names),
    )


def translate_response_format(value: Any) -> JSON:
    if not isinstance(value, dict):
        raise bad("response_format", "must be an object with a `type`")
    kind = value.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind != "json_schema":
        raise bad("response_format.type", "expected 'text', 'json_object' or 'json_schema'")
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise bad("response_format.json_schema", "type 'json_schema' needs json_schema "
                                                 "(an object with a `schema`)")
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise bad("response_format.json_schema.schema", "must be a JSON schema object")
    name = spec.get("name")
    if name is not None and not isinstance(name, str):
        raise bad("response_format.json_schema.name", "must be a string")
    out: JSON = {"name": name or "response",
                 "schema": checked_schema(schema, path="response_format.json_schema.schema")}
    for key, kind_ok, expected in (("description", str, "a string"),
                                   ("strict", bool, "true or false")):
        field = spec.get(key)
        if isinstance(field, kind_ok):
            out[key] = field
        elif field is not None:
            raise bad(f"response_format.json_schema.{key}", f"must be {expected}")
    return {"type": "json_schema", "json_schema": out}


def translate_prediction(value: Any) -> JSON:
    """OpenAI allows the predicted content as text parts; Mistral takes one string."""
    if not isinstance(value, dict) or value.get("type", "content") != "content":
        raise bad("prediction", "expected {'type': 'content', 'content': ...}")
    content = value.get("content", "")
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type", "text") != "text" \
                    or not isinstance(part.get("text"), str):
                raise bad(f"prediction.content[{i}]", "must be a text part "
                                                      "{'type': 'text', 'text': <string>}")
            texts.append(part["text"])
        content = "".join(texts)
    elif not isinstance(content, str):
        raise bad("prediction.content", "must be a string or a list of text parts")
    return {"type": "content", "content": content}


def _tools_fields(params: JSON, fields: JSON, unsupported: list[str]) -> None:
    tools = params.get("tools")
    functions = params.get("functions")
    mistral_tools: list[JSON] = []
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("tools", "expected a list of tools")
        mistral_tools = translate_tools(tools)
    if functions is not None:
        if not isinstance(functions, list):
            raise bad("functions", "expected a list of functions")
        mistral_tools += translate_legacy_functions(functions)
    if not mistral_tools:
        return  # a tool_choice without tools has nothing to choose from: dropped
    fields["tools"] = mistral_tools
    choice = params.get("tool_choice")
    if choice is not None:
        mapped = translate_tool_choice(choice)
        if mapped is None:
            unsupported.append("tool_choice")
        else:
            fields["tool_choice"] = mapped
    elif params.get("function_call") is not None:
        mapped = translate_legacy_function_call(params["function_call"])
        if mapped is None:
            unsupported.append("function_call")
        else:
            fields["tool_choice"] = mapped


def translate_params(params: JSON, *, drop_params: bool) -> JSON:
    """The Mistral fields for ``params`` (messages, model, stream and reasoning aside)."""
    fields: JSON = {}
    unsupported: list[str] = []
    handled = False
    for key, value in params.items():  # checked on the way (check_params' order and rule)
        if value is None:
            continue
        check = CHECKS.get(key)
        if check is not None:
            why = check(value)
            if why is not None:
                raise bad(key, why)
        if key in PASSTHROUGH:
            fields[key] = value
        elif key in HANDLED:
            handled = True
        elif key not in NOISE and not _harmless(key, value):
            unsupported.append(key)
    if handled:
        _handled_fields(params, fields, unsupported)
    if unsupported and not drop_params:
        raise unsupported_error(unsupported)
    return fields


def _handled_fields(params: JSON, fields: JSON, unsupported: list[str]) -> None:
    """The fields of the parameters :data:`HANDLED` names (most calls have none but
    ``stream``)."""
    if params.get("max_completion_tokens") is not None:  # the newer name wins
        fields["max_tokens"] = params["max_completion_tokens"]
    if params.get("seed") is not None and "random_seed" not in fields:
        fields["random_seed"] = params["seed"]
    if params.get("response_format") is not None:
        fields["response_format"] = translate_response_format(params["response_format"])
    if params.get("prediction") is not None:
        fields["prediction"] = translate_prediction(params["prediction"])
    tier = params.get("service_tier")
    if isinstance(tier, str):
        if tier in MISTRAL_SERVICE_TIERS:
            fields["service_tier"] = tier
        elif tier not in OPENAI_SERVICE_TIERS:
            unsupported.append("service_tier")
    elif tier is not None:
        raise bad("service_tier", "must be a string")
    _tools_fields(params, fields, unsupported)
