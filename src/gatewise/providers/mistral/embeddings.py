"""Embeddings: OpenAI's request/response shapes <-> Mistral's ``/v1/embeddings`` (§7)."""

from __future__ import annotations

import math
from typing import Any

from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.checks import (
    EMBEDDING_CHECKS,
    bad,
    check_params,
    extra_fields,
)
from gatewise.providers.mistral.params import unsupported_error

EMBEDDINGS_PATH = "/embeddings"

_PASSTHROUGH = frozenset({"encoding_format", "output_dtype", "metadata", "output_dimension"})
# Every field of the body gatewise writes itself (extra_body may only add others).
BODY_FIELDS = frozenset({"model", "input", *_PASSTHROUGH})
_NOISE = frozenset({"user", "extra_headers"})

# Mistral refuses a request over 512 inputs or ~16k tokens (16384 by its older message).
MAX_INPUTS = 512
MAX_BATCH_TOKENS = 16000


def build_embedding_body(
    model: str,
    input: str | list[str],  # OpenAI's parameter name
    params: JSON,
    *,
    drop_params: bool = False,
    model_info: ModelInfo | None = None,
) -> JSON:
    """The JSON body for ``POST /v1/embeddings``.

    ``dimensions`` becomes ``output_dimension`` for models that can shorten their vectors
    (``model_info.supports_output_dimension``); elsewhere it is a parameter Mistral cannot
    honour.
    """
    if isinstance(input, list):
        if not input:
            raise bad("input", "must hold at least one string")
        for i, text in enumerate(input):
            if not isinstance(text, str):
                raise bad(f"input[{i}]", "must be a string")
    elif not isinstance(input, str):
        raise bad("input", "must be a string or a list of strings")
    check_params(params, EMBEDDING_CHECKS)
    body: JSON = {"model": model, "input": input}
    unsupported: list[str] = []
    for key, value in params.items():
        if value is None or key in _NOISE or key in ("dimensions", "extra_body"):
            continue
        if key in _PASSTHROUGH:
            body[key] = value
        else:
            unsupported.append(key)
    dimensions = params.get("dimensions")
    if dimensions is not None:
        if model_info is not None and model_info.supports_output_dimension:
            body["output_dimension"] = dimensions
        else:
            unsupported.append("dimensions")
    if unsupported and not drop_params:
        raise unsupported_error(unsupported)
    extra_body: Any = params.get("extra_body")
    if extra_body is not None:  # the caller's escape hatch, for fields gatewise never sends
        body.update(extra_fields(extra_body, BODY_FIELDS))
    return body


def approximate_tokens(text: str) -> int:
    """A deliberately generous token estimate, without loading a tokenizer.

    Mistral's tokenizers average about 3.5-4 characters per token on ASCII text (English,
    code); other scripts take more tokens per character (CJK near one per character), which
    UTF-8 bytes / 3 tracks well.  Overestimating only makes batches a little smaller.
    """
    if text.isascii():
        return math.ceil(len(text) / 3.5)
    # surrogatepass: a lone surrogate is counted, not raised on (the encoder refuses it)
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / 3)


def split_embedding_inputs(
    inputs: list[str], *, max_inputs: int = MAX_INPUTS, max_tokens: int = MAX_BATCH_TOKENS
) -> list[list[str]]:
    """Consecutive batches of at most ``max_inputs`` inputs and ``max_tokens`` estimated
    tokens (:func:`approximate_tokens`), in order.  An input too big on its own gets a
    batch of its own: Mistral's answer about it is clearer than anything we could say.
    """
    batches: list[list[str]] = []
    batch: list[str] = []
    batch_tokens = 0
    for text in inputs:
        tokens = approximate_tokens(text)
        if batch and (len(batch) >= max_inputs or batch_tokens + tokens > max_tokens):
            batches.append(batch)
            batch, batch_tokens = [], 0
        batch.append(text)
        batch_tokens += tokens
    if batch:
        batches.append(batch)
    return batches


def _usage(usage: Any) -> JSON:
    prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    prompt = prompt if isinstance(prompt, int) else 0
    return {"prompt_tokens": prompt, "total_tokens": total if isinstance(total, int) else prompt}


def parse_embedding_response(body: JSON, *, model: str) -> JSON:
    """Mistral's embeddings answer -> OpenAI's ``{"object": "list", "data": [...]}``."""
    data = body.get("data")
    items = []
    for position, item in enumerate(data if isinstance(data, list) else ()):
        if not isinstance(item, dict):
            continue
        index = item.get("index")
        items.append({"object": "embedding", "embedding": item.get("embedding"),
                      "index": index if isinstance(index, int) else position})
    return {"object": "list", "data": items, "model": body.get("model") or model,
            "usage": _usage(body.get("usage"))}


def merge_embedding_responses(parts: list[JSON]) -> JSON:
    """Parsed answers for consecutive batches -> one answer, indices counted across them."""
    data: list[JSON] = []
    prompt_tokens = total_tokens = 0
    for part in parts:
        for item in sorted(part.get("data") or (), key=lambda item: item["index"]):
            data.append({**item, "index": len(data)})
        usage = part.get("usage") or {}
        prompt_tokens += usage.get("prompt_tokens", 0)
        total_tokens += usage.get("total_tokens", 0)
    return {"object": "list", "data": data, "model": parts[0]["model"] if parts else "",
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": total_tokens}}
