"""Canned answers for ``mock_response=``: the same types as a real call, no network.

``mock_response`` may be a string (the assistant's text), a list of chunks (dicts or
``ModelResponseChunk``; streamed as given, or rebuilt into one response), or an exception
(instance or class) to raise, so users can test their own error handling.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from gatewise._exceptions import BadRequestError


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def raise_if_exception(mock: Any) -> None:
    if isinstance(mock, BaseException):
        raise mock
    if isinstance(mock, type) and issubclass(mock, BaseException):
        raise mock("mock_response raised this error")


def _approx_tokens(text: str) -> int:
    return max(1, -(-len(text) // 4))


def mock_chat_response(mock: Any, model: str) -> dict[str, Any]:
    """A chat.completion dict for a string (or a chunk list, rebuilt)."""
    raise_if_exception(mock)
    if isinstance(mock, list):
        from gatewise._streaming import build_response_dict

        return build_response_dict([_chunk_dict(c) for c in mock])
    if not isinstance(mock, str):
        raise BadRequestError("mock_response must be a string, a list of chunks or an exception",
                              param="mock_response")
    return {
        "id": f"mock-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": mock}}],
        "usage": _usage(10, _approx_tokens(mock)),
    }


def mock_chat_chunks(mock: Any, model: str, *, include_usage: bool = False
                     ) -> list[dict[str, Any]]:
    """The chunks of a mocked stream: a string is split into word-sized pieces."""
    raise_if_exception(mock)
    if isinstance(mock, list):
        return [_chunk_dict(c) for c in mock]
    if not isinstance(mock, str):
        raise BadRequestError("mock_response must be a string, a list of chunks or an exception",
                              param="mock_response")
    base = {"id": f"mock-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}
    pieces = [mock[i:i + 8] for i in range(0, len(mock), 8)] or [""]
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
               for p in pieces]
    usage = _usage(10, _approx_tokens(mock))
    last: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {},
                                                 "finish_reason": "stop"}]}
    if include_usage:
        chunks += [last, {**base, "choices": [], "usage": usage}]
    else:
        chunks.append({**last, "usage": usage})
    return chunks


def _chunk_dict(chunk: Any) -> dict[str, Any]:
    if isinstance(chunk, dict):
        return chunk
    from gatewise.types import ModelResponseChunk  # (pydantic: loaded only for one)

    if isinstance(chunk, ModelResponseChunk):
        return chunk.model_dump(exclude_none=True)
    raise BadRequestError("mock_response chunks must be dicts or ModelResponseChunk objects",
                          param="mock_response")


def mock_embedding_response(mock: Any, model: str, inputs: int) -> dict[str, Any]:
    raise_if_exception(mock)
    vector = mock if isinstance(mock, list) else [0.0] * 8
    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "embedding": vector, "index": i}
                     for i in range(inputs)],
            "usage": {"prompt_tokens": inputs, "total_tokens": inputs}}
