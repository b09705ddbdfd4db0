"""The attributes of a call's span, after OpenTelemetry's GenAI semantic conventions
(``gen_ai.*``), plus gatewise's own (``gatewise.*``).

Never a secret (no key, not even its digest) and no message content unless message logging
is on (then ``gen_ai.input.messages`` / ``gen_ai.output.messages``, JSON text, as the
conventions' opt-in attributes).  Pure functions: a record and its parameters in, a dict
out.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import orjson

from gatewise.record import RequestRecord

__all__ = ["FIXED_FIELDS", "OPERATIONS", "attempt_attributes", "fixed_attributes", "fixed_of",
           "operation_of", "provider_of", "record_attributes", "request_attributes",
           "varying_attributes"]

OPERATIONS = {"chat": "chat", "embeddings": "embeddings", "completions": "text_completion",
              "fim": "text_completion"}
"""Route -> ``gen_ai.operation.name`` (another route keeps its own name)."""
_PROVIDERS = {"mistral": "mistral_ai"}
"""gatewise's provider names -> the conventions' ``gen_ai.provider.name``."""
_NUMBERS = {"temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p",
            "frequency_penalty": "gen_ai.request.frequency_penalty",
            "presence_penalty": "gen_ai.request.presence_penalty",
            "seed": "gen_ai.request.seed", "n": "gen_ai.request.choice.count",
            "max_tokens": "gen_ai.request.max_tokens",
            "max_completion_tokens": "gen_ai.request.max_tokens",
            "dimensions": "gen_ai.embeddings.dimension.count"}


def operation_of(route: str) -> str:
    return OPERATIONS.get(route, route)


def provider_of(model: str | None) -> str | None:
    """``mistral/mistral-small-latest`` -> ``mistral_ai``."""
    if not model:
        return None
    name, slash, _ = model.partition("/")
    return _PROVIDERS.get(name, name) if slash else None


def request_attributes(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request parameters the conventions name (``gen_ai.request.*``)."""
    out: dict[str, Any] = {}
    if not params:
        return out
    for name, value in params.items():
        attribute = _NUMBERS.get(name)
        if attribute is not None:
            if type(value) in (int, float):
                out[attribute] = value
        elif name == "stop":
            if isinstance(value, str):
                out["gen_ai.request.stop_sequences"] = [value]
            elif isinstance(value, list) and all(isinstance(s, str) for s in value):
                out["gen_ai.request.stop_sequences"] = value
        elif name == "encoding_format" and isinstance(value, str):
            out["gen_ai.request.encoding_formats"] = [value]
        elif name == "stream" and value is True:
            out["gen_ai.request.stream"] = True
    return out


FIXED_FIELDS = ("route", "model_group", "model", "response_model", "status", "deployment_id",
                "finish_reasons", "stream", "abandoned", "mock", "key_alias", "team_id",
                "team_alias", "error_type")
"""The record's fields :func:`fixed_attributes` reads: a handful of combinations over a
proxy's life (its attributes are encoded once per combination)."""
fixed_of = operator.attrgetter(*FIXED_FIELDS)


_WHEN_SET = (("stream", "gen_ai.request.stream"), ("abandoned", "gatewise.abandoned"),
             ("mock", "gatewise.mock"), ("key_alias", "gatewise.key_alias"),
             ("team_id", "gatewise.team_id"), ("team_alias", "gatewise.team_alias"))
"""Record fields copied to an attribute of their own when set (flags as ``True``)."""


def record_attributes(record: RequestRecord) -> dict[str, Any]:
    """A finished call's attributes: what it asked for, who served, what it used."""
    out = fixed_attributes(record)
    out.update(varying_attributes(record))
    return out


def fixed_attributes(record: RequestRecord) -> dict[str, Any]:
    """The attributes that depend only on :data:`FIXED_FIELDS`: the route, the model, who
    served, how it ended, the caller's alias and team."""
    out: dict[str, Any] = {"gen_ai.operation.name": operation_of(record.route),
                           "gatewise.route": record.route}
    if record.model_group is not None:
        out["gen_ai.request.model"] = record.model_group
    provider = provider_of(record.model)
    if provider is not None:
        out["gen_ai.provider.name"] = provider
    response_model = record.response_model or (
        record.model.partition("/")[2] if record.model else None)
    if response_model:
        out["gen_ai.response.model"] = response_model
    if record.status:
        out["http.response.status_code"] = record.status
    if record.deployment_id is not None:
        out["gatewise.deployment"] = record.deployment_id
    if record.finish_reasons:
        out["gen_ai.response.finish_reasons"] = list(record.finish_reasons)
    for field, attribute in _WHEN_SET:  # (made once per combination: a loop will do)
        value = getattr(record, field)
        if value:
            out[attribute] = value
    if record.error_type is not None:
        out["error.type"] = record.error_type
    return out


def varying_attributes(record: RequestRecord) -> dict[str, Any]:
    """The attributes of this call alone: its id, usage, cost, timings, parameters."""
    out: dict[str, Any] = {"gatewise.call_id": record.call_id}
    if record.prompt_tokens or record.completion_tokens:
        out["gen_ai.usage.input_tokens"] = record.prompt_tokens
        out["gen_ai.usage.output_tokens"] = record.completion_tokens
        if record.reasoning_tokens:
            out["gatewise.usage.reasoning_tokens"] = record.reasoning_tokens
        if record.usage_estimated:
            out["gatewise.usage.estimated"] = True
    if record.cost:
        out["gatewise.cost_usd"] = record.cost
    if record.retries:
        out["gatewise.retries"] = record.retries
    if record.fallbacks:
        out["gatewise.fallbacks"] = record.fallbacks
    if record.ttft is not None:
        out["gatewise.time_to_first_token_s"] = record.ttft
    if record.overhead is not None:
        out["gatewise.overhead_s"] = record.overhead
    if record.request_params:
        out.update(request_attributes(record.request_params))
    if record.prompt is not None:
        out["gen_ai.input.messages"] = _json(record.prompt)
    if record.completion is not None:
        out["gen_ai.output.messages"] = _json(record.completion)
    return out


def attempt_attributes(operation: str, model: str, deployment_id: str | None,
                       api_base: str | None) -> dict[str, Any]:
    """An upstream call's attributes at its start (``model``: ``provider/id``)."""
    out: dict[str, Any] = {"gen_ai.operation.name": operation,
                           "gen_ai.request.model": model.partition("/")[2] or model}
    provider = provider_of(model)
    if provider is not None:
        out["gen_ai.provider.name"] = provider
    if deployment_id is not None:
        out["gatewise.deployment"] = deployment_id
    if api_base:
        host = api_base.partition("://")[2].partition("/")[0]
        address, _, port = host.rpartition(":")
        if port.isdigit() and address:
            out["server.address"], out["server.port"] = address, int(port)
        elif host:
            out["server.address"] = host
    return out


def usage_attributes(usage: Any) -> dict[str, Any]:
    """``gen_ai.usage.*`` from a usage (OpenAI's shape, a dict or a model)."""
    if usage is None:
        return {}
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    else:
        prompt = getattr(usage, "prompt_tokens", None)
        completion = getattr(usage, "completion_tokens", None)
    out: dict[str, Any] = {}
    if type(prompt) is int:
        out["gen_ai.usage.input_tokens"] = prompt
    if type(completion) is int:
        out["gen_ai.usage.output_tokens"] = completion
    return out


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)
