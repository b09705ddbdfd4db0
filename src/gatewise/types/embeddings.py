"""Embedding responses, shaped like OpenAI's."""

from __future__ import annotations

from gatewise.types._base import Costed, OpenAIObject


class Embedding(OpenAIObject):
    object: str = "embedding"
    embedding: list[float] | list[int] | str
    """Floats; ints for an integer ``output_dtype``; a base64 string for
    ``encoding_format="base64"``."""
    index: int


class EmbeddingUsage(OpenAIObject):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingResponse(Costed):
    """``response.data[i].embedding``."""

    object: str = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage | None = None
