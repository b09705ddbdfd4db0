"""Text (code) completions, shaped like OpenAI's legacy ``/v1/completions``."""

from __future__ import annotations

from typing import Any

from gatewise.types._base import Costed, OpenAIObject
from gatewise.types.chat import Usage


class TextChoice(OpenAIObject):
    index: int = 0
    text: str = ""
    logprobs: Any = None
    finish_reason: str | None = None


class TextCompletionResponse(Costed):
    """A text completion: ``response.choices[0].text`` (for FIM, the code that fills the
    gap between ``prompt`` and ``suffix``)."""

    id: str
    object: str = "text_completion"
    created: int
    model: str
    choices: list[TextChoice]
    usage: Usage | None = None


class TextCompletionChunk(OpenAIObject):
    """One streamed piece: ``chunk.choices[0].text``; ``usage`` on the last one."""

    id: str
    object: str = "text_completion"
    created: int
    model: str
    choices: list[TextChoice]
    usage: Usage | None = None
