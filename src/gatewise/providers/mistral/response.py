"""``parse_chat_response``: a Mistral chat completion -> OpenAI's ``chat.completion`` (§4).

Tolerant by design: unknown keys are ignored at every level and missing optional keys get
OpenAI's defaults, because Mistral keeps adding fields (``p``, ``logprobs``,
``service_tier``...).
"""

from __future__ import annotations

import time
from typing import Any

from gatewise.catalogue._model_info import ModelInfo
from gatewise.providers.base import JSON
from gatewise.providers.mistral.reasoning import ThinkSplitter, thinking_text
from gatewise.providers.mistral.tools import arguments_string

_FINISH_REASONS = {"model_length": "length"}


def finish_reason(value: Any) -> str | None:
    if value is None:
        return None
    return _FINISH_REASONS.get(value, value) if isinstance(value, str) else str(value)


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def translate_usage(usage: Any) -> JSON:
    """Mistral usage -> OpenAI usage (``prompt_tokens_details`` kept when present)."""
    if not isinstance(usage, dict):
        usage = {}
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    total = usage.get("total_tokens")
    out: JSON = {"prompt_tokens": prompt, "completion_tokens": completion,
                 "total_tokens": total if isinstance(total, int) else prompt + completion}
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict):
        out["prompt_tokens_details"] = {"cached_tokens": _int(details.get("cached_tokens"))}
    return out


def tool_call(call: Any, index: int | None = None) -> JSON | None:
    """One Mistral tool call -> OpenAI's form; ``index`` only for stream deltas."""
    if not isinstance(call, dict):
        return None
    function = call.get("function")
    if not isinstance(function, dict):
        function = {}
    out: JSON = {}
    if index is not None:
        out["index"] = index
    out["id"] = str(call.get("id") or "")
    out["type"] = "function"
    out["function"] = {"name": str(function.get("name") or ""),
                       "arguments": arguments_string(function.get("arguments"))}
    return out


def split_content(content: Any, splitter: ThinkSplitter) -> tuple[str, str]:
    """(reasoning, text) of one content value: a string or a list of chunks.

    Text goes through ``splitter`` (``<think>`` tags from instructed models), thinking
    chunks straight to reasoning; the stream translator calls this per delta with one
    splitter per choice, so both paths produce the same text.
    """
    if isinstance(content, str):
        return splitter.feed(content) if content else ("", "")
    if not isinstance(content, list):
        return "", ""
    reasoning: list[str] = []
    text: list[str] = []
    for chunk in content:
        if isinstance(chunk, str):
            piece: Any = chunk
        elif not isinstance(chunk, dict):
            continue
        elif chunk.get("type") == "thinking":
            reasoning.append(thinking_text(chunk))
            continue
        else:
            piece = chunk.get("text") if chunk.get("type") == "text" else None
        if isinstance(piece, str):
            more_reasoning, more_text = splitter.feed(piece)
            reasoning.append(more_reasoning)
            text.append(more_text)
    return "".join(reasoning), "".join(text)


def _message(raw: Any) -> JSON:
    if not isinstance(raw, dict):
        raw = {}
    text = raw.get("content")
    if isinstance(text, str) and "<" not in text:
        reasoning, content = "", text  # no tag to split: the splitter would keep it whole
    else:
        splitter = ThinkSplitter()
        reasoning, content = split_content(text, splitter)
        tail_reasoning, tail_content = splitter.flush()
        reasoning += tail_reasoning
        content += tail_content
    calls = [c for c in map(tool_call, raw.get("tool_calls") or ()) if c is not None]
    message: JSON = {"role": "assistant", "content": None if calls and not content else content}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return message


def parse_chat_response(body: JSON, *, model: str, model_info: ModelInfo | None = None) -> JSON:
    """Mistral's answer -> an OpenAI ``chat.completion`` dict."""
    choices = body.get("choices")
    out_choices = []
    for position, choice in enumerate(choices if isinstance(choices, list) else ()):
        if not isinstance(choice, dict):
            continue
        index = choice.get("index")
        out_choices.append({
            "index": index if isinstance(index, int) else position,
            "message": _message(choice.get("message")),
            "finish_reason": finish_reason(choice.get("finish_reason")),
        })
    created = body.get("created")
    return {
        "id": str(body.get("id") or ""),
        "object": "chat.completion",
        "created": created if isinstance(created, int) else int(time.time()),
        "model": body.get("model") or model,
        "choices": out_choices,
        "usage": translate_usage(body.get("usage")),
    }
