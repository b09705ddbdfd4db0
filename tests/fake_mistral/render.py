"""An :class:`Answer` in the wire shapes of mistral-api.md §4 (JSON) and §5 (SSE chunks)."""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .answers import Answer

_PADDING = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class Reply:
    """One answer to one request: what stays the same across every chunk of a stream."""

    answer: Answer
    model: str
    prompt_tokens: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))

    def usage(self) -> dict[str, Any]:
        completion = self.answer.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + completion,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": 0},
            "service_tier": "standard",
        }

    def completion(self) -> dict[str, Any]:
        """The non-stream body, keys in the live server's order."""
        answer = self.answer
        content: Any = answer.text
        if answer.thinking:
            content = [
                {
                    "type": "thinking",
                    "thinking": [{"type": "text", "text": answer.thinking}],
                    "closed": True,
                },
                {"type": "text", "text": answer.text},
            ]
        message = {"role": "assistant", "tool_calls": answer.tool_calls, "content": content}
        return {
            "id": self.id,
            "created": self.created,
            "model": self.model,
            "usage": self.usage(),
            "object": "chat.completion",  # FIM answers too
            "choices": [{"index": 0, "finish_reason": answer.finish_reason, "message": message}],
        }

    def chunks(self) -> Iterator[dict[str, Any]]:
        """The stream's chunks; the last one carries ``finish_reason`` and ``usage``."""
        deltas = list(self._deltas())
        for position, delta in enumerate(deltas, start=1):
            last = position == len(deltas)
            choice = {
                "index": 0,
                "delta": delta,
                "finish_reason": self.answer.finish_reason if last else None,
                "logprobs": None,
            }
            chunk: dict[str, Any] = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [choice],
            }
            if last:
                chunk["usage"] = self.usage()
            chunk["p"] = _PADDING[: random.randint(1, len(_PADDING))]
            yield chunk

    def _deltas(self) -> Iterator[dict[str, Any]]:
        answer = self.answer
        yield {"role": "assistant", "content": ""}
        for piece in _pieces(answer.thinking, None):
            yield {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": piece}]}]}
        pieces = _pieces(answer.text, answer.piece_size)
        yield from ({"content": piece} for piece in pieces)
        if answer.tool_calls:
            yield {"content": None, "tool_calls": answer.tool_calls}
        elif answer.finish_reason != "length" or not pieces:
            # A cut answer ends on its last content piece (observed live).
            yield {"content": ""}


def _pieces(text: str, size: int | None) -> list[str]:
    """``text`` cut into stream pieces: word by word (" often"), or every ``size`` characters."""
    if size is not None:
        return [text[i : i + size] for i in range(0, len(text), size)]
    return [piece for piece in re.split(r"(?<=\S)(?=\s)", text) if piece]
