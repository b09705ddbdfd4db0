"""A deterministic stand-in for Mistral's tokenizer: about four characters per token."""

from __future__ import annotations

from typing import Any


def count_tokens(text: str) -> int:
    return -(-len(text) // 4)


def content_text(content: Any) -> str:
    """The text of a message ``content``: a string, None, or a list of chunks."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for chunk in content or []:
        if chunk.get("type") == "text":
            parts.append(chunk["text"])
        elif chunk.get("type") == "thinking":
            parts.extend(inner.get("text", "") for inner in chunk["thinking"])
    return "".join(parts)


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Tokens of every message's text and tool-call arguments."""
    total = 0
    for message in messages:
        total += count_tokens(content_text(message.get("content")))
        for call in message.get("tool_calls") or []:
            arguments = call["function"]["arguments"]
            total += count_tokens(arguments if isinstance(arguments, str) else str(arguments))
    return total
