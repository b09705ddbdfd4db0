"""``POST /v1/embeddings`` after schema validation: batch limits, sizes, deterministic vectors."""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
import uuid
from typing import Any

from .errors import ErrorReply, bad_request, invalid_args, invalid_model
from .models import MODELS, ModelFacts
from .tokens import count_tokens

MAX_INPUTS = 512
MAX_TOKENS = 16384
# struct codes of each output_dtype's elements, for base64 output.
_PACKING = {"float": "f", "int8": "b", "uint8": "B", "binary": "b", "ubinary": "B"}


def embedding_reply(body: dict[str, Any]) -> ErrorReply:
    """``(status, body)`` for a schema-valid embeddings request."""
    facts = MODELS.get(body["model"])
    if facts is None or facts.mode != "embedding":
        return invalid_model(body["model"])
    inputs = [body["input"]] if isinstance(body["input"], str) else body["input"]
    if len(inputs) > MAX_INPUTS:
        return bad_request("Too many inputs in request, split into more batches.", code="3210")
    tokens = sum(count_tokens(text) for text in inputs)
    if tokens > MAX_TOKENS:
        return bad_request("Too many tokens overall, split into more batches")
    error = _options_error(body, facts)
    if error:
        return error
    size = body.get("output_dimension") or facts.dimensions or 0
    dtype = body.get("output_dtype", "float")
    as_base64 = body.get("encoding_format") == "base64"
    data = [
        {
            "object": "embedding",
            "embedding": _encode(_vector(facts, text, size), dtype, as_base64=as_base64),
            "index": index,
        }
        for index, text in enumerate(inputs)
    ]
    usage = {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0}
    return 200, {
        "id": uuid.uuid4().hex,
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": usage,
    }


def _options_error(body: dict[str, Any], facts: ModelFacts) -> ErrorReply | None:
    """Only Matryoshka models (codestral-embed) take ``output_dimension``/``output_dtype``."""
    dimension = body.get("output_dimension")
    if facts.max_dimensions is None:
        if dimension is not None:
            return invalid_args("output_dimension is not supported for this model")
        if body.get("output_dtype", "float") != "float":
            return invalid_args("output_dtype is not supported for this model")
    elif dimension is not None and dimension > facts.max_dimensions:
        return invalid_args(
            f"output_dimension must be at most {facts.max_dimensions} for this model"
        )
    return None


def _vector(facts: ModelFacts, text: str, size: int) -> list[float]:
    """A unit vector fixed by (model, text); smaller sizes are prefixes (Matryoshka)."""
    seed = hashlib.sha256(f"{facts.id}\0{text}".encode()).digest()
    rng = random.Random(seed)
    full = [rng.gauss(0.0, 1.0) for _ in range(facts.max_dimensions or size)]
    vector = full[:size]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    # Round through float32, as the server sends float32 values.
    return list(struct.unpack(f"<{size}f", struct.pack(f"<{size}f", *(v / norm for v in vector))))


def _encode(vector: list[float], dtype: str, *, as_base64: bool) -> list[float] | list[int] | str:
    values: list[float] | list[int] = vector
    if dtype in ("int8", "uint8"):
        scale = 127 / (max(abs(v) for v in vector) or 1.0)
        values = [round(v * scale) + (128 if dtype == "uint8" else 0) for v in vector]
    elif dtype in ("binary", "ubinary"):
        values = _pack_bits(vector, signed=dtype == "binary")
    if not as_base64:
        return values
    packed = struct.pack(f"<{len(values)}{_PACKING[dtype]}", *values)
    return base64.b64encode(packed).decode("ascii")


def _pack_bits(vector: list[float], *, signed: bool) -> list[int]:
    """One bit per dimension (1 if positive), eight to a byte, as int8 or uint8 values."""
    packed = []
    for start in range(0, len(vector), 8):
        byte = sum(1 << (7 - i) for i, v in enumerate(vector[start : start + 8]) if v > 0)
        packed.append(byte - 256 if signed and byte > 127 else byte)
    return packed
