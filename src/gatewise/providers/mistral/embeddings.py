"""Embeddings: OpenAI's request/response shapes <-> Mistral's ``/v1/embeddings`` (§7)."""

from __future__ import annotations

import math
from typing import Any

import orjson

from gatewise._rawjson import RawJSON
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


_KEY = b'"embedding"'
_BLANK = frozenset(b" \t\r\n")


def _skip_blanks(raw: bytes, i: int) -> int:
    while i < len(raw) and raw[i] in _BLANK:
        i += 1
    return i


def _cut_vectors(raw: bytes) -> tuple[bytes, list[RawJSON]] | None:
    """``raw`` with the k-th ``"embedding"`` value (an array, or a base64 string) replaced by
    the number k, and the values themselves (views of ``raw``, as they were sent); None when
    a value is neither.

    A few C-level searches per vector, none per number.  The cuts are right only if the
    skeleton still parses with every marker where a vector was (see :func:`_with_vectors`):
    a misplaced cut (an array inside the array, a bracket or quote inside a string, the
    key's text inside a string) leaves the rest of that value in the skeleton, where it is
    not valid JSON, or a marker elsewhere."""
    view = memoryview(raw)
    pieces: list[bytes | memoryview] = []
    vectors: list[RawJSON] = []
    start = pos = 0
    while (at := raw.find(_KEY, pos)) >= 0:
        i = _skip_blanks(raw, at + len(_KEY))
        if raw[i:i + 1] != b":":  # a value ("object": "embedding"), not the key
            pos = i
            continue
        i = _skip_blanks(raw, i + 1)
        opening = raw[i:i + 1]
        if opening == b"[":
            end = raw.find(b"]", i) + 1
        elif opening == b'"':
            end = raw.find(b'"', i + 1) + 1
        else:
            return None
        if end <= 0:
            return None
        pieces += (view[start:i], b"%d" % len(vectors))
        vectors.append(RawJSON(view[i:end]))
        start = pos = end
    pieces.append(view[start:])
    return b"".join(pieces), vectors


def _with_vectors(skeleton: Any, vectors: list[RawJSON]) -> JSON | None:
    """The skeleton with each marker replaced by its vector, or None when the markers are
    not exactly where the vectors were (then the cuts were wrong)."""
    if not isinstance(skeleton, dict):
        return None
    data = skeleton.get("data")
    if not isinstance(data, list) or len(data) != len(vectors):
        return None
    for number, item in enumerate(data):
        marker = item.get("embedding") if isinstance(item, dict) else None
        if type(marker) is not int or marker != number:
            return None
        item["embedding"] = vectors[number]
    return skeleton


def parse_embedding_answer(raw: bytes, *, model: str) -> JSON | None:
    """Mistral's embeddings answer as it came (bytes) -> OpenAI's shape, like
    :func:`parse_embedding_response`, but each vector is a :class:`~gatewise._rawjson.RawJSON`
    (a view of ``raw``), for relaying: its numbers are never parsed into Python floats (see
    ``gatewise._rawjson``).  None when the vectors cannot be cut out safely: the answer is
    then to be decoded whole (by the HTTP layer, which says what is wrong with it)."""
    cut = _cut_vectors(raw)
    if cut is None:
        return None
    try:
        body = _with_vectors(orjson.loads(cut[0]), cut[1])
    except orjson.JSONDecodeError:
        return None
    return None if body is None else parse_embedding_response(body, model=model)


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
