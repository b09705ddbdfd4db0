"""Canned answers for ``mock_response=`` on code completions and moderation (see
``_mock`` for chat's): the same shapes as a real call, no network."""

from __future__ import annotations

import time
import uuid
from typing import Any

from gatewise._exceptions import BadRequestError
from gatewise._mock import raise_if_exception

JSON = dict[str, Any]


def _text(mock: Any) -> str:
    raise_if_exception(mock)
    if not isinstance(mock, str):
        raise BadRequestError("mock_response must be a string or an exception for a text "
                              "completion", param="mock_response")
    return mock


def _usage(text: str) -> JSON:
    completion = max(1, -(-len(text) // 4))
    return {"prompt_tokens": 10, "completion_tokens": completion,
            "total_tokens": 10 + completion}


def _head(model: str) -> JSON:
    return {"id": f"mock-{uuid.uuid4().hex}", "object": "text_completion",
            "created": int(time.time()), "model": model}


def mock_text_completion(mock: Any, model: str) -> JSON:
    """A ``text_completion`` dict whose text is ``mock``."""
    text = _text(mock)
    return {**_head(model),
            "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage(text)}


def mock_text_chunks(mock: Any, model: str, *, include_usage: bool = False) -> list[JSON]:
    """The chunks of a mocked text completion stream: ``mock`` in word-sized pieces, then
    the finish (with usage, or usage alone after it when ``include_usage``)."""
    text = _text(mock)
    head = _head(model)
    chunks = [{**head, "choices": [{"index": 0, "text": text[i:i + 8], "logprobs": None,
                                    "finish_reason": None}]}
              for i in range(0, len(text), 8)]
    last: JSON = {**head, "choices": [{"index": 0, "text": "", "logprobs": None,
                                       "finish_reason": "stop"}]}
    if include_usage:
        return [*chunks, last, {**head, "choices": [], "usage": _usage(text)}]
    return [*chunks, {**last, "usage": _usage(text)}]


def mock_moderation(mock: Any, model: str, inputs: int) -> JSON:
    """A moderation answer with one result per input: ``mock`` when it is a result
    (``{"categories": {...}, "category_scores": {...}}``), else one that flags nothing."""
    raise_if_exception(mock)
    if isinstance(mock, dict):
        categories = mock.get("categories") or {}
        flagged = mock.get("flagged", any(v is True for v in categories.values()))
        result = {"flagged": flagged is True,
                  "categories": categories, "category_scores": mock.get("category_scores") or {}}
    else:
        result = {"flagged": False, "categories": {}, "category_scores": {}}
    return {"id": f"mock-{uuid.uuid4().hex}", "model": model,
            "results": [dict(result) for _ in range(inputs)]}
