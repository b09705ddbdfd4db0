"""Shared by ``Client`` and ``AsyncClient``: settings, typed results, stream wrapping."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from gatewise._http import Timeout
from gatewise._http._decode import decode_answer
from gatewise._http._secrets import Secrets
from gatewise._prepare import Call, Settings
from gatewise.catalogue import cost_for_usage
from gatewise.types import EmbeddingResponse, ModelResponse, ModelResponseChunk

JSON = dict[str, Any]


def settings(api_key: str | None, api_base: str | None, timeout: float | Timeout | None,
              num_retries: int, drop_params: bool, extra_headers: Mapping[str, str] | None,
              redact: Iterable[str] = (), ssl_verify: bool | str = True) -> Settings:
    if not (isinstance(ssl_verify, bool) or (isinstance(ssl_verify, str) and ssl_verify)):
        raise ValueError("ssl_verify must be True, False or the path of a CA bundle, got "
                         f"{ssl_verify!r}")
    return Settings(api_key=api_key, api_base=api_base, timeout=Timeout.of(timeout),
                    num_retries=num_retries, drop_params=drop_params,
                    extra_headers=dict(extra_headers) if extra_headers else None,
                    redact=tuple(str(v) for v in redact if v), ssl_verify=ssl_verify)


def _cost(call: Call, data: JSON) -> float | None:
    """What the answer cost: nothing when it was mocked (no upstream was called)."""
    return 0.0 if call.mock is not None else cost_for_usage(call.info, data.get("usage") or {})


def typed_response(call: Call, data: JSON) -> ModelResponse:
    response = ModelResponse.model_validate(data)
    response._cost = _cost(call, data)
    return response


def typed_embedding(call: Call, data: JSON) -> EmbeddingResponse:
    response = EmbeddingResponse.model_validate(data)
    response._cost = _cost(call, data)
    return response


def relay_decoder(call: Call) -> Callable[[bytes, Secrets], JSON]:
    """How an embeddings answer is read for relaying: each vector kept as the upstream's
    bytes where the adapter can cut it out, else the answer decoded whole."""
    adapter, model = call.adapter, call.model_id

    def decode(raw: bytes, secrets: Secrets) -> JSON:
        parsed = adapter.parse_embedding_answer(raw, model=model)
        if parsed is None:
            parsed = adapter.parse_embedding_response(decode_answer(raw, secrets), model=model)
        return parsed

    return decode


def include_usage(call: Call) -> bool:
    options = call.params.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def typed_chunk(data: JSON) -> ModelResponseChunk:
    return ModelResponseChunk.model_validate(data)


